"""docs/examples/python: every example runs against a live router (echo provider)
and prints what a reader is told it prints."""

from __future__ import annotations

import sys

import pytest

from tests.test_examples_common import (
    CHECKS,
    EXAMPLES,
    ExampleRouter,
    example_router,
)

__all__ = ["example_router"]  # the fixture, re-exported for pytest

PYTHON = EXAMPLES / "python"


@pytest.mark.parametrize("client", ["openai", "aiohttp"])
@pytest.mark.parametrize("topic", list(CHECKS))
async def test_python_example(example_router: ExampleRouter, client: str, topic: str) -> None:
    script = PYTHON / f"{client}_{topic}.py"
    run = await example_router.run(sys.executable, script.name, cwd=PYTHON)
    CHECKS[topic](run.check())


def test_every_python_example_is_tested() -> None:
    tested = {f"{c}_{t}.py" for c in ("openai", "aiohttp") for t in CHECKS}
    assert {p.name for p in PYTHON.glob("*.py")} == tested
