"""Streaming behaviour that depends on timing, tested without timed assertions:
chunks are forwarded as they arrive (lock-step with the upstream), keep-alive
comments flow while the upstream is silent, and an upstream that fails before its
first byte is still an ordinary HTTP error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import openai
import pytest
from aiohttp import web

from tests.router_harness import RunningRouter, post_chat, router_settings, serve_app, start_router

CHUNK = (
    'data: {{"id":"chatcmpl-ls","object":"chat.completion.chunk","created":1700000000,'
    '"model":"ls-1","choices":[{{"index":0,"delta":{{"content":"t{n} "}},'
    '"logprobs":null,"finish_reason":null}}]}}\n\n'
)
FINISH = (
    'data: {"id":"chatcmpl-ls","object":"chat.completion.chunk","created":1700000000,'
    '"model":"ls-1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)


STREAM_BODY = {"model": "ls/ls-1", "stream": True, "messages": [{"role": "user", "content": "x"}]}


class LockStep:
    """Sends chunk n only after the test has seen chunk n-1 through the router."""

    def __init__(self, silence_first: float = 0.0, fail_status: int | None = None) -> None:
        self.go = asyncio.Queue[int]()
        self.silence_first = silence_first
        self.fail_status = fail_status

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.fail_status:
            return web.json_response(
                {"error": {"message": "down", "type": "server_error", "code": None}},
                status=self.fail_status,
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if self.silence_first:
            await asyncio.sleep(self.silence_first)
        for n in range(5):
            await resp.write(CHUNK.format(n=n).encode())
            if n < 4:
                await asyncio.wait_for(self.go.get(), timeout=10)
        await resp.write(FINISH.encode())
        return resp


async def serve(up: LockStep) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", up.handle)
    return await serve_app(app)


async def router_for(tmp_path: Path, port: int, keepalive: float = 15.0) -> RunningRouter:
    extra = f"""
[providers.ls]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{port}/v1", api_key = "k" }}
[providers.ls.models."ls-1"]
context_length = 100000
"""
    settings = router_settings(tmp_path, extra_toml=extra, keepalive=keepalive, retries=0)
    return await start_router(settings)


@pytest.fixture
async def lockstep() -> AsyncIterator[tuple[LockStep, int]]:
    up = LockStep()
    runner, port = await serve(up)
    yield up, port
    await runner.cleanup()


async def test_each_chunk_is_forwarded_before_the_next_exists(
    tmp_path: Path, lockstep: tuple[LockStep, int]
) -> None:
    up, port = lockstep
    router = await router_for(tmp_path, port)
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        stream = await client.chat.completions.create(
            model="ls/ls-1", messages=[{"role": "user", "content": "x"}], stream=True
        )
        seen: list[str] = []
        async for chunk in stream:
            for c in chunk.choices:
                if c.delta.content:
                    seen.append(c.delta.content)
                    # the upstream is blocked until we ack: had the router buffered,
                    # this loop would deadlock and the upstream's wait_for would fail
                    up.go.put_nowait(len(seen))
        assert seen == ["t0 ", "t1 ", "t2 ", "t3 ", "t4 "]
    finally:
        await router.stop()


async def test_keepalive_comments_while_upstream_is_silent(tmp_path: Path) -> None:
    up = LockStep(silence_first=1.2)
    runner, port = await serve(up)
    router = await router_for(tmp_path, port, keepalive=0.3)
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                router.base_url + "/chat/completions",
                headers={"Authorization": f"Bearer {router.key}"},
                json=STREAM_BODY,
            ) as r,
        ):
            assert r.status == 200
            text = ""
            async for raw in r.content:
                text += raw.decode()
                if '"t0 "' in text:
                    break
            for n in range(1, 5):
                up.go.put_nowait(n)
            text += (await r.read()).decode()
        before_first = text.split("data: ", 1)[0]
        assert ": keep-alive\n\n" in before_first
        assert text.endswith("data: [DONE]\n\n")
    finally:
        await router.stop()
        await runner.cleanup()


async def _read_until(r: aiohttp.ClientResponse, text: str, marker: str) -> str:
    async with asyncio.timeout(10):
        async for raw in r.content:
            text += raw.decode()
            if marker in text:
                return text
    raise AssertionError(f"{marker!r} never came: {text[-300:]!r}")


async def test_keepalives_mid_stream_and_the_sweep_holds_only_open_streams(
    tmp_path: Path,
) -> None:
    """One sweeper per process keeps streams alive: a stream whose upstream falls
    silent after its first token gets comments, and the sweeper lets go of a stream
    when it ends and when its client leaves."""
    up = LockStep()
    runner, port = await serve(up)
    router = await router_for(tmp_path, port, keepalive=0.2)
    sweep = router.state.keepalives
    headers = {"Authorization": f"Bearer {router.key}"}
    url = router.base_url + "/chat/completions"
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(url, headers=headers, json=STREAM_BODY) as r:
                text = await _read_until(r, "", '"t0 "')
                assert len(sweep) == 1
                text = await _read_until(r, text, ": keep-alive\n\n")  # upstream silent
                for n in range(1, 5):
                    up.go.put_nowait(n)
                text += (await r.read()).decode()
            assert text.endswith("data: [DONE]\n\n")
            assert len(sweep) == 0
            async with s.post(url, headers=headers, json=STREAM_BODY) as r:
                await _read_until(r, "", '"t0 "')
                assert len(sweep) == 1
                r.close()  # the client leaves mid-stream
            for _ in range(250):
                if len(sweep) == 0:
                    break
                await asyncio.sleep(0.02)
            assert len(sweep) == 0
            for n in range(1, 5):  # let the abandoned upstream handler finish
                up.go.put_nowait(n)
    finally:
        await router.stop()
        await runner.cleanup()


async def test_failure_before_first_byte_is_an_http_error(tmp_path: Path) -> None:
    up = LockStep(fail_status=503)
    runner, port = await serve(up)
    router = await router_for(tmp_path, port)
    try:
        reply = await post_chat(router, STREAM_BODY)
        assert reply.status == 502
        assert reply.headers["Content-Type"].startswith("application/json")
        assert reply.json()["error"] == "model_error"
    finally:
        await router.stop()
        await runner.cleanup()
