"""Shared by the docs/examples tests (no tests here): a live router with the echo
provider, the environment the examples read, and a way to run one example as a
separate process while the router keeps serving in this event loop."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from router_core.limits.base import RateLimits
from tests.router_harness import RunningRouter, router_settings, start_router
from tests.services import require_binary

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
# An example that takes longer than this is stuck (the echo answers at once).
EXAMPLE_TIMEOUT_S = 120.0


@dataclass
class ExampleRun:
    """One finished example process."""

    argv: Sequence[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> str:
        """stdout, after asserting the example exited 0."""
        assert self.returncode == 0, (
            f"{' '.join(self.argv)} exited {self.returncode}\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )
        return self.stdout


@dataclass
class ExampleRouter:
    """The router and the environment an example gets."""

    router: RunningRouter
    env: dict[str, str]

    async def run(self, *argv: str, cwd: Path, limit_s: float = EXAMPLE_TIMEOUT_S) -> ExampleRun:
        """Run ``argv`` in ``cwd`` with the example environment."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit_s)
        except TimeoutError:
            proc.kill()
            out, err = await proc.communicate()
            raise AssertionError(
                f"{' '.join(argv)} did not finish in {limit_s}s\n{out.decode()}\n{err.decode()}"
            ) from None
        assert proc.returncode is not None
        return ExampleRun(argv, proc.returncode, out.decode(), err.decode())


async def node_with_package(directory: Path, package: str) -> str:
    """The node binary, with ``directory``'s locked dependencies installed (``npm ci``
    when ``package`` is missing from its node_modules)."""
    node = require_binary("node", "nodejs")
    if (directory / "node_modules" / package / "package.json").exists():
        return node
    npm = require_binary("npm", "npm")
    proc = await asyncio.create_subprocess_exec(
        npm,
        "ci",
        "--no-audit",
        "--no-fund",
        cwd=directory,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 300)
    assert proc.returncode == 0, f"npm ci failed in {directory}:\n{out.decode()}"
    return node


@pytest.fixture
async def example_router(tmp_path: Path) -> AsyncIterator[ExampleRouter]:
    """A live router (echo provider) with a normal key and a key limited to 1 rpm."""
    router = await start_router(router_settings(tmp_path))
    try:
        _, limited = await router.state.accounts.create_key(
            router.account_id, "limited", limits=RateLimits(rpm=1)
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("VIBEROUTER_", "OPENAI_")) and k != "NODE_OPTIONS"
        }
        env.update(
            VIBEROUTER_BASE_URL=router.base_url,
            VIBEROUTER_API_KEY=router.key,
            VIBEROUTER_LIMITED_API_KEY=limited,
            VIBEROUTER_MODEL="echo",
            PYTHONUNBUFFERED="1",
        )
        yield ExampleRouter(router, env)
    finally:
        await router.stop()


# ---------------------------------------------------------------- expected outputs
# Every language prints the same lines for the same example, so one set of checks.

CHAT_REPLY = "Hello, VibeRouter!"
STREAM_TEXT = "Stream these words one by one, please."
TOOL_CALL_LINE = re.compile(r'^tool call: get_weather\(\{"city": ?"Paris"\}\)$', re.MULTILINE)
TOOL_ANSWER = re.compile(
    r'^answer: The get_weather tool returned: \{"city": ?"Paris", ?"forecast": ?"sunny", ?'
    r'"temperature": ?21, ?"unit": ?"celsius"\}$',
    re.MULTILINE,
)


def check_chat(out: str) -> None:
    """The plain call printed the echoed text, the finish reason and the usage."""
    lines = out.splitlines()
    assert lines[0] == CHAT_REPLY
    assert "finish_reason=stop" in lines
    assert re.search(r"^tokens: prompt=\d+ completion=\d+$", out, re.MULTILINE), out


def check_stream(out: str) -> None:
    """The stream printed the whole text, its finish reason and the usage chunk."""
    lines = out.splitlines()
    assert lines[0] == STREAM_TEXT
    assert "finish_reason=stop" in lines
    assert re.search(r"^tokens: prompt=\d+ completion=[1-9]\d*$", out, re.MULTILINE), out


def check_tools(out: str) -> None:
    """The tool was called with arguments built from the message, and the final
    (streamed) answer quotes the tool's result."""
    assert TOOL_CALL_LINE.search(out), out
    assert TOOL_ANSWER.search(out), out


def check_models(out: str) -> None:
    """Every published model id is listed with its context length."""
    ids = {line.split("\t")[0] for line in out.splitlines() if line}
    assert {"echo", "echo/echo-1"} <= ids, out
    assert re.search(r"^echo\tcontext=32768\tstatus=available\ttools=true$", out, re.M | re.I), out


def check_errors(out: str) -> None:
    """Each provoked error was recognised with its status, code and action."""
    lines = out.splitlines()
    assert "unauthorized: 401 invalid_api_key" in lines, out
    assert re.search(r"^rate limited: 429 rate_limit_exceeded, retry after \d+ s$", out, re.M), out
    assert "upstream failure: 502 model_error" in lines, out
    assert "mid-stream: model_error after 'Count one two'" in lines, out
    assert "  action: wait Retry-After seconds, then retry" in lines, out
    assert out.count("  action: ") == 4, out


#: Each example topic and the check its output must pass, in every language.
CHECKS: dict[str, Callable[[str], None]] = {
    "chat": check_chat,
    "stream": check_stream,
    "tools": check_tools,
    "models": check_models,
    "errors": check_errors,
}
