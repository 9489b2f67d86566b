"""docs/examples/responses-js: the official openai package (Responses API) and the
Vercel AI SDK's default OpenAI provider (`ai` + `@ai-sdk/openai`, which speaks the
Responses API) run unmodified on Node.js against a live router (echo provider), a
plain and a streamed call each. Packages come from package-lock.json (`npm ci`) when
node_modules is missing; without node or npm the tests skip locally and fail under
CI=true."""

from __future__ import annotations

import asyncio
import json
import re

from tests.services import require_binary
from tests.test_examples_common import EXAMPLES, ExampleRouter, example_router

__all__ = ["example_router"]  # the fixture, re-exported for pytest

JS = EXAMPLES / "responses-js"
PACKAGES = ("openai", "ai", "@ai-sdk/openai")


async def _node() -> str:
    """The node binary, with the example's locked packages installed."""
    node = require_binary("node", "nodejs")
    if all((JS / "node_modules" / p / "package.json").exists() for p in PACKAGES):
        return node
    npm = require_binary("npm", "npm")
    proc = await asyncio.create_subprocess_exec(
        npm, "ci", "--no-audit", "--no-fund", cwd=JS,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, f"npm ci failed in {JS}:\n{out.decode()}"
    return node


async def test_openai_package_responses_plain_and_streamed(
    example_router: ExampleRouter,
) -> None:
    run = await example_router.run(await _node(), "responses.mjs", cwd=JS)
    lines = run.check().splitlines()
    assert lines[0] == "Hello from the Responses API!"
    assert lines[1] == "status=completed"
    assert re.fullmatch(r"tokens: input=[1-9]\d* output=[1-9]\d*", lines[2]), lines
    assert lines[3] == "Stream these words one by one, please."
    assert lines[4] == "stream status=completed deltas_match_output=true"


async def test_ai_sdk_default_provider_plain_and_streamed(example_router: ExampleRouter) -> None:
    run = await example_router.run(await _node(), "ai-sdk.mjs", cwd=JS)
    lines = run.check().splitlines()
    assert lines[0] == "Hello from the AI SDK!"
    assert re.fullmatch(r"finish=stop tokens: input=[1-9]\d* output=[1-9]\d*", lines[1]), lines
    assert lines[2] == "Stream these words one by one, please."
    assert lines[3] == "stream finish=stop"


def test_lockfile_pins_the_declared_versions() -> None:
    declared = json.loads((JS / "package.json").read_text())["dependencies"]
    lock = json.loads((JS / "package-lock.json").read_text())
    for name in PACKAGES:
        assert lock["packages"][f"node_modules/{name}"]["version"] == declared[name]
    assert (JS / ".gitignore").read_text().strip() == "node_modules/"
