"""docs/examples/javascript: every example runs on Node.js with the official openai
package against a live router (echo provider) and prints what a reader is told it
prints. The package comes from package-lock.json (`npm ci`) when node_modules is
missing; without node or npm the tests skip locally and fail under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_examples_common import (
    CHECKS,
    EXAMPLES,
    ExampleRouter,
    example_router,
    node_with_package,
)

__all__ = ["example_router"]  # the fixture, re-exported for pytest

JS = EXAMPLES / "javascript"


async def _node_with_openai() -> str:
    """The node binary, with the example's locked dependencies installed."""
    return await node_with_package(JS, "openai")


@pytest.mark.parametrize("topic", list(CHECKS))
async def test_javascript_example(example_router: ExampleRouter, topic: str) -> None:
    node = await _node_with_openai()
    run = await example_router.run(node, f"{topic}.mjs", cwd=JS)
    CHECKS[topic](run.check())


def test_every_javascript_example_is_tested() -> None:
    assert {p.stem for p in JS.glob("*.mjs")} == set(CHECKS)


def test_lockfile_pins_the_declared_openai_version() -> None:
    import json

    declared = json.loads((JS / "package.json").read_text())["dependencies"]["openai"]
    lock = json.loads((JS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/openai"]["version"] == declared
    assert lock["packages"][""]["dependencies"]["openai"] == declared
    assert Path(JS / ".gitignore").read_text().strip() == "node_modules/"
