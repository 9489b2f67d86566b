"""Request limits through the real router: message and tool counts, body size,
context length per model (with fallbacks), each with its exact error body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from router_core.errors import ALL_CODES
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

GUARDS = """
[guards]
max_messages = 10
max_tools = 3

[providers.echo.models."echo-small"]
context_length = 300
max_output_tokens = 100

[providers.echo.models."echo-big"]
context_length = 100000
max_output_tokens = 1000

[routes.small]
deployments = ["echo/echo-small"]

[routes.big]
deployments = ["echo/echo-big"]
"""

MAX_BODY = 64 * 1024


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    settings = router_settings(tmp_path, extra_toml=GUARDS)
    server = msgspec.structs.replace(settings.server, max_body_bytes=MAX_BODY)
    router = await start_router(msgspec.structs.replace(settings, server=server))
    try:
        yield router
    finally:
        await router.stop()


async def post(router: RunningRouter, body: Any) -> tuple[int, Any]:
    kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            router.base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {router.key}", "Content-Type": "application/json"},
            **kw,
        ) as r,
    ):
        return r.status, await r.json(content_type=None)


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error", "message"}
    assert body["error"] == code and code in ALL_CODES
    assert isinstance(body["message"], str) and body["message"]


def user(text: str = "hi") -> dict[str, str]:
    return {"role": "user", "content": text}


def tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


async def test_message_count_limit(guarded: RunningRouter) -> None:
    status, _ = await post(guarded, {"model": "echo", "messages": [user()] * 10})
    assert status == 200
    status, body = await post(guarded, {"model": "echo", "messages": [user()] * 11})
    assert status == 400
    assert_error(body, "invalid_request")
    assert body["message"] == "Too many messages: 11 (at most 10) - at `$.messages`"


async def test_tool_count_limit(guarded: RunningRouter) -> None:
    ok = {"model": "echo", "messages": [user()], "tools": [tool(f"t{i}") for i in range(3)]}
    assert (await post(guarded, ok))[0] == 200
    status, body = await post(guarded, {**ok, "tools": [tool(f"t{i}") for i in range(4)]})
    assert status == 400
    assert_error(body, "invalid_request")
    assert body["message"] == "Too many tools: 4 (at most 3) - at `$.tools`"


async def test_body_size_limit_is_413_invalid_request(guarded: RunningRouter) -> None:
    text = "x" * (MAX_BODY + 10)
    status, body = await post(guarded, {"model": "echo", "messages": [user(text)]})
    assert status == 413
    assert_error(body, "invalid_request")
    assert "too large" in body["message"]
    # just under the cap is decoded normally (and then refused for context, not size)
    under = msgspec.json.encode({"model": "big", "messages": [user("y" * (MAX_BODY - 200))]})
    assert len(under) <= MAX_BODY
    assert (await post(guarded, under))[0] == 200


async def test_prompt_over_the_context_length(guarded: RunningRouter) -> None:
    status, body = await post(guarded, {"model": "small", "messages": [user("word " * 400)]})
    assert status == 400
    assert_error(body, "context_length_exceeded")
    assert body["message"].startswith("This model's maximum context length is 300 tokens")


async def test_prompt_plus_requested_output_over_the_context_length(
    guarded: RunningRouter,
) -> None:
    ok = {"model": "small", "messages": [user("a short question")], "max_tokens": 100}
    assert (await post(guarded, ok))[0] == 200
    status, body = await post(guarded, {**ok, "max_tokens": 290})
    assert status == 400
    assert_error(body, "context_length_exceeded")
    assert "plus max_tokens (290)" in body["message"]


async def test_a_fallback_with_a_larger_window_serves_what_the_primary_cannot(
    guarded: RunningRouter,
) -> None:
    long = {"model": "small", "models": ["big"], "messages": [user("word " * 400)]}
    r = await post_chat(guarded, long)
    assert r.status == 200
    assert r.headers["X-VibeRouter-Deployment"] == "echo/echo-big"


async def test_context_check_can_be_turned_off(tmp_path: Path) -> None:
    settings = router_settings(
        tmp_path, extra_toml=GUARDS.replace("max_tools = 3", "max_tools = 3\ncheck_context = false")
    )
    router = await start_router(settings)
    try:
        status, _ = await post(router, {"model": "small", "messages": [user("word " * 400)]})
        assert status == 200
    finally:
        await router.stop()


@pytest.mark.parametrize("split", [False, True])
async def test_body_size_cap_whether_the_body_came_with_the_headers_or_later(
    tmp_path: Path, split: bool
) -> None:
    # A small cap: the body arrives in the headers' segment (taken from the buffer at
    # once) or, split, after them (read as it comes); the same 413 either way.
    settings = router_settings(tmp_path)
    server = msgspec.structs.replace(settings.server, max_body_bytes=1024)
    router = await start_router(msgspec.structs.replace(settings, server=server))
    try:
        host, port = router.base_url.split("//")[1].split("/")[0].split(":")
        for size, expected in ((900, 200), (1100, 413)):
            body = msgspec.json.encode({"model": "echo", "messages": [user("z")]})
            body = body[:-1] + b',"user":"' + b"u" * (size - len(body) - 10) + b'"}'
            head = (
                f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {router.key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            reader, writer = await asyncio.open_connection(host, int(port))
            if split:
                writer.write(head + body[:10])
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(body[10:])
            else:
                writer.write(head + body)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            status = int(answer.split(b" ", 2)[1])
            assert status == expected, (size, split, answer[:300])
            if expected == 413:
                payload = msgspec.json.decode(answer.partition(b"\r\n\r\n")[2])
                assert payload["error"] == "invalid_request" and "too large" in payload["message"]
    finally:
        await router.stop()
