"""A client that goes away mid-stream makes the router close the upstream at once,
release its concurrency slot and bill only what was streamed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from router_core.limits.base import RateLimits
from tests.router_harness import RunningRouter, router_settings, serve_app, start_router

CHUNK = (
    'data: {{"id":"chatcmpl-slow","object":"chat.completion.chunk","created":1700000000,'
    '"model":"slow-1","choices":[{{"index":0,"delta":{{"content":"tok{n} "}},'
    '"logprobs":null,"finish_reason":null}}]}}\n\n'
)


@dataclass
class SlowUpstream:
    """Streams a token every 50 ms until the router hangs up; records what it saw."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        self.started.set()
        try:
            for n in range(10_000):
                await resp.write(CHUNK.format(n=n).encode())
                self.sent += 1
                await asyncio.sleep(0.05)
        except (asyncio.CancelledError, ConnectionResetError):
            self.closed.set()
            raise
        return resp


@pytest.fixture
async def slow_upstream() -> AsyncIterator[tuple[SlowUpstream, int]]:
    up = SlowUpstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", up.handle)
    runner, port = await serve_app(app, handler_cancellation=True)
    yield up, port
    await runner.cleanup()


async def start(tmp_path: Path, port: int) -> RunningRouter:
    extra = f"""
[providers.slow]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{port}/v1", api_key = "k" }}
[providers.slow.models."slow-1"]
context_length = 100000
"""
    return await start_router(
        router_settings(tmp_path, extra_toml=extra), limits=RateLimits(concurrency=1)
    )


async def test_client_disconnect_closes_upstream(
    tmp_path: Path, slow_upstream: tuple[SlowUpstream, int]
) -> None:
    up, port = slow_upstream
    router = await start(tmp_path, port)
    try:
        body = {
            "model": "slow/slow-1",
            "stream": True,
            "messages": [{"role": "user", "content": "go"}],
        }
        headers = {"Authorization": f"Bearer {router.key}"}
        session = aiohttp.ClientSession()
        resp = await session.post(router.base_url + "/chat/completions", json=body, headers=headers)
        assert resp.status == 200
        first = await resp.content.readuntil(b"\n\n")
        assert b"tok0" in first
        # hang up mid-stream
        resp.close()
        await session.close()
        await asyncio.wait_for(up.closed.wait(), timeout=5)
        sent_at_close = up.sent
        await asyncio.sleep(0.2)
        assert up.sent == sent_at_close  # no orphaned generation
        for _ in range(50):
            if router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0:
                break
            await asyncio.sleep(0.02)
        assert router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0
        assert router.state.metrics.client_disconnects._value.get() == 1
        # the key's only concurrency slot is free again
        up.closed.clear()
        async with aiohttp.ClientSession() as s2:
            r2 = await s2.post(router.base_url + "/chat/completions", json=body, headers=headers)
            assert r2.status == 200, await r2.text()
            r2.close()
        # only what was streamed is billed (an estimate: no usage chunk ever came)
        await router.state.ledger.flush()
        rows = await router.state.store.query_usage(key_id=router.key_id)
        assert rows and rows[0].requests >= 1
        assert 0 < rows[0].completion_tokens < 100
    finally:
        await router.stop()


async def test_client_disconnect_during_non_stream_wait(
    tmp_path: Path, slow_upstream: tuple[SlowUpstream, int]
) -> None:
    up, port = slow_upstream
    router = await start(tmp_path, port)
    try:
        body = {"model": "slow/slow-1", "messages": [{"role": "user", "content": "go"}]}
        headers = {"Authorization": f"Bearer {router.key}"}
        session = aiohttp.ClientSession()
        task = asyncio.create_task(
            session.post(router.base_url + "/chat/completions", json=body, headers=headers)
        )
        await asyncio.wait_for(up.started.wait(), timeout=5)
        task.cancel()
        await session.close()
        await asyncio.wait_for(up.closed.wait(), timeout=5)
        for _ in range(50):
            if router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0:
                break
            await asyncio.sleep(0.02)
        assert router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0
    finally:
        await router.stop()


def test_chunk_template_is_valid_json() -> None:
    line = CHUNK.format(n=1)
    assert json.loads(line[6:].strip())["choices"][0]["delta"]["content"] == "tok1 "
