"""docs/examples/anthropic-js: the official @anthropic-ai/sdk npm package on Node.js,
configured only by ANTHROPIC_BASE_URL and a key (as Claude Code is), creates and streams
through the router's Anthropic Messages API, with either auth header form. The package
comes from package-lock.json (`npm ci`) when node_modules is missing; without node or
npm the test skips locally and fails under CI=true."""

from __future__ import annotations

import json
import re

import pytest

from tests.test_examples_common import EXAMPLES, ExampleRouter, example_router, node_with_package

__all__ = ["example_router"]  # the fixture, re-exported for pytest

JS = EXAMPLES / "anthropic-js"
PACKAGE = "@anthropic-ai/sdk"


@pytest.mark.parametrize("variable", ["ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"])
async def test_create_and_stream(example_router: ExampleRouter, variable: str) -> None:
    node = await node_with_package(JS, PACKAGE)
    env = {k: v for k, v in example_router.env.items() if not k.startswith("ANTHROPIC_")}
    env.update(
        {"ANTHROPIC_BASE_URL": example_router.router.url, variable: example_router.router.key}
    )
    run = await ExampleRouter(example_router.router, env).run(node, "messages.mjs", cwd=JS)
    lines = run.check().splitlines()
    assert lines[0] == "Hello, VibeRouter!"
    assert lines[1] == "stop_reason=end_turn"
    assert re.fullmatch(r"tokens: input=[1-9]\d* output=[1-9]\d*", lines[2]), lines
    assert lines[3] == "Stream these words one by one, please."
    assert lines[4] == "stop_reason=end_turn"
    assert re.fullmatch(r"tokens: input=[1-9]\d* output=[1-9]\d*", lines[5]), lines


def test_lockfile_pins_the_declared_version() -> None:
    declared = json.loads((JS / "package.json").read_text())["dependencies"][PACKAGE]
    lock = json.loads((JS / "package-lock.json").read_text())
    assert lock["packages"][f"node_modules/{PACKAGE}"]["version"] == declared
    assert lock["packages"][""]["dependencies"][PACKAGE] == declared
    assert (JS / ".gitignore").read_text().strip() == "node_modules/"
    assert "ANTHROPIC_BASE_URL" in (JS / "messages.mjs").read_text()
