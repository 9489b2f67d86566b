"""Abusive clients and upstreams, with raw sockets against the real router:
slow headers (slowloris), a body that never completes, an idle connection, the
connection cap, malformed HTTP carrying a credential, and upstream streams whose
events grow without end."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

from router_core.app import build_state, make_app
from router_core.http_server import (
    UNACKED_SEND_LIMIT_S,
    CappedTCPSite,
    handler_args,
    refusal_bytes,
)
from router_core.settings import ServerSettings, Settings
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router
from tests.router_process import start_router_process
from tests.services import free_port

READ_TIMEOUT = 1.0


def with_server(settings: Settings, **changes: Any) -> Settings:
    return msgspec.structs.replace(
        settings, server=msgspec.structs.replace(settings.server, **changes)
    )


@pytest.fixture
async def strict(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    settings = with_server(router_settings(tmp_path), client_read_timeout_s=READ_TIMEOUT)
    router = await start_router(settings)
    try:
        yield router
    finally:
        await router.stop()


def address(router: RunningRouter) -> tuple[str, int]:
    host, port = router.url.removeprefix("http://").split(":")
    return host, int(port)


async def read_until_closed(reader: asyncio.StreamReader, limit: float) -> bytes:
    """Everything the server sends until it closes (bounded by ``limit`` seconds)."""
    data = b""
    async with asyncio.timeout(limit):
        while chunk := await reader.read(65536):
            data += chunk
    return data


def test_handler_args_bound_header_reads() -> None:
    assert handler_args(ServerSettings(client_read_timeout_s=7.5)) == {
        "keepalive_timeout": 7.5,
        "lingering_time": 2.0,
    }
    assert handler_args(ServerSettings(client_read_timeout_s=0))["keepalive_timeout"] > 0


async def test_slowloris_headers_are_cut_off(strict: RunningRouter) -> None:
    reader, writer = await asyncio.open_connection(*address(strict))
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        + "".join(f"X-Pad-{i}: {'p' * 20}\r\n" for i in range(20))
    ).encode()
    sent = 0
    closed = False
    try:
        for byte in head:  # one byte every 50 ms: ~30 s for the whole head
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            try:
                async with asyncio.timeout(0.05):
                    if await reader.read(1024) == b"":
                        closed = True
                        break
            except TimeoutError:
                continue
    except ConnectionError:
        closed = True
    finally:
        writer.close()
    assert closed, "the router kept a connection whose headers never finished"
    assert sent < len(head)


async def test_idle_connection_is_closed(strict: RunningRouter) -> None:
    reader, writer = await asyncio.open_connection(*address(strict))
    try:
        assert await read_until_closed(reader, READ_TIMEOUT * 10) == b""
    finally:
        writer.close()


async def test_body_that_never_completes_gets_408(strict: RunningRouter) -> None:
    reader, writer = await asyncio.open_connection(*address(strict))
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {strict.key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    writer.write(head.encode() + b'{"model": "echo", ')
    await writer.drain()
    try:
        raw = await read_until_closed(reader, READ_TIMEOUT * 10)
    finally:
        writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 408")
    body = rest.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body) == {
        "error": "invalid_request",
        "message": f"The request body did not arrive within {READ_TIMEOUT:g} seconds",
    }


async def test_a_healthy_client_is_unaffected(strict: RunningRouter) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(2):  # the same keep-alive connection, twice
            async with s.post(
                strict.base_url + "/chat/completions",
                headers={"Authorization": f"Bearer {strict.key}"},
                json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
            ) as r:
                assert r.status == 200


# ---------------------------------------------------------------- connection cap

CAP = 3


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[tuple[str, int, CappedTCPSite, str]]:
    settings = with_server(router_settings(tmp_path), max_connections=CAP)
    state = build_state(settings)
    runner = web.AppRunner(make_app(settings, state), handler_cancellation=True, access_log=None)
    await runner.setup()
    port = free_port()
    site = CappedTCPSite(runner, "127.0.0.1", port, max_connections=CAP)
    await site.start()
    account = await state.accounts.create_account("cap")
    _, secret = await state.accounts.create_key(account.id, "cap")
    try:
        yield "127.0.0.1", port, site, secret
    finally:
        await runner.cleanup()


async def test_connections_beyond_the_cap_get_429_and_are_closed(
    capped: tuple[str, int, CappedTCPSite, str],
) -> None:
    host, port, site, key = capped
    held = [await asyncio.open_connection(host, port) for _ in range(CAP)]
    for _, w in held:  # each holds a connection with a request in progress
        w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        await w.drain()
    await asyncio.sleep(0.05)
    reader, writer = await asyncio.open_connection(host, port)
    raw = await read_until_closed(reader, 10)
    writer.close()
    assert raw == refusal_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429") and b"Retry-After: 1" in head
    assert json.loads(body)["error"] == "concurrent_requests"
    assert site.cap is not None and site.cap.refused == 1

    # a slot frees up when a held connection goes away
    _, w0 = held.pop()
    w0.close()
    await w0.wait_closed()
    ok = False
    for _ in range(100):
        await asyncio.sleep(0.02)
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"http://{host}:{port}/v1/models", headers={"Authorization": f"Bearer {key}"}
            ) as r,
        ):
            if r.status == 200:
                ok = True
                break
    assert ok
    for _, w in held:
        w.close()


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="a Linux socket option")
async def test_every_connection_carries_the_unacked_send_limit(
    capped: tuple[str, int, CappedTCPSite, str],
) -> None:
    """Set once on the listener, inherited by each accepted socket, and left in place
    by a stream (aiohttp-sse set and restored it around every stream)."""
    host, port, site, key = capped
    limit_ms = int(UNACKED_SEND_LIMIT_S * 1000)
    server = site._runner.server
    assert server is not None

    def accepted() -> list[int]:
        return [
            h.transport.get_extra_info("socket").getsockopt(
                socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT
            )
            for h in server.connections
            if h.transport is not None
        ]

    async with aiohttp.ClientSession() as s:
        body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        headers = {"Authorization": f"Bearer {key}"}
        async with s.post(
            f"http://{host}:{port}/v1/chat/completions", json=body, headers=headers
        ) as r:
            assert r.status == 200
            assert accepted() == [limit_ms]
            text = await r.text()
        assert text.rstrip().endswith("data: [DONE]")
        assert accepted() == [limit_ms]  # kept on the keep-alive connection after the stream


# ---------------------------------------------------------------- malformed HTTP

MALFORMED_CONFIG = """
[state]
sqlite_path = "{db}"

[logging]
format = "json"

[providers.echo]
plugin = "echo"

[routes.echo]
deployments = ["echo/echo-1"]
"""


async def test_malformed_http_is_answered_without_echoing_it(tmp_path: Path) -> None:
    cfg = tmp_path / "viberouter.toml"
    cfg.write_text(MALFORMED_CONFIG.format(db=(tmp_path / "router.db").as_posix()))
    proc = start_router_process(cfg, tmp_path)
    secret = "vr-ThisSecretMustNeverComeBackToTheSender0000000"
    try:
        proc.demo_key()
        attempts = [
            # bare LF line ends
            f"GET /v1/models HTTP/1.1\nHost: x\nAuthorization: Bearer {secret}\n\n",
            # a control character in the method
            f"G\x01T /v1/models HTTP/1.1\r\nAuthorization: Bearer {secret}\r\n\r\n",
            # a header line with no colon, after the credential
            f"GET /v1/models HTTP/1.1\r\nAuthorization: Bearer {secret}\r\nno colon\r\n\r\n",
            # a request line that is not HTTP at all
            f"Authorization: Bearer {secret}\r\n\r\n",
            # a header line over the 16 KiB limit
            f"GET / HTTP/1.1\r\nAuthorization: Bearer {secret}\r\nX: {'a' * 20000}\r\n\r\n",
            # more headers than the limit
            f"GET / HTTP/1.1\r\nAuthorization: Bearer {secret}\r\n"
            + "".join(f"X-{i}: y\r\n" for i in range(100))
            + "\r\n",
        ]
        for raw in attempts:
            with socket.create_connection(("127.0.0.1", proc.port), timeout=5) as sock:
                sock.sendall(raw.encode("latin-1"))
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            assert secret.encode() not in reply, reply
            assert b"ThisSecret" not in reply
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.split(b" ")[1] == b"400", reply
            assert b"content-type: application/json" in head.lower()
            assert json.loads(body) == {
                "error": "invalid_request",
                "message": "malformed HTTP request",
            }
        assert secret not in proc.output()  # nor in the router's log
    finally:
        proc.stop()


# ---------------------------------------------------------------- endless upstream events

EVENT_CAP = 64 * 1024


class EndlessUpstream:
    """A fake OpenAI-compatible upstream whose stream (or body) never stops growing:
    ``mode`` "first" sends one good chunk, then an event with no end; "event" starts
    with an event with no end; "body" sends a JSON body with no end. Counts the bytes
    it managed to write before the router hung up."""

    def __init__(self) -> None:
        self.mode = "first"
        self.written = 0
        self.port = free_port()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        self._runner = web.AppRunner(app)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stream = self.mode != "body"
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream" if stream else "application/json"}
        )
        await resp.prepare(request)
        if self.mode == "event":
            await resp.write(b'data: {"x": "')
        elif stream:
            chunk = {
                "id": "c1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "m1",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}],
            }
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            await asyncio.sleep(0.2)  # the router commits the stream with the first chunk
            await resp.write(b'data: {"x": "')
        else:
            await resp.write(b'{"id": "c1", "choices": [{"message": {"content": "')
        piece = b"a" * 16384
        try:
            for _ in range(4096):  # 64 MiB at most, far beyond the cap
                await resp.write(piece)
                self.written += len(piece)
        except (ConnectionResetError, ConnectionError):
            pass
        return resp


@pytest.fixture
async def endless(tmp_path: Path) -> AsyncIterator[tuple[RunningRouter, EndlessUpstream]]:
    up = EndlessUpstream()
    await up.start()
    toml = f"""
[providers.endless]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{up.port}/v1", api_key = "k", models = ["m1"] }}
"""
    settings = router_settings(tmp_path, extra_toml=toml)
    settings = msgspec.structs.replace(
        settings, upstream=msgspec.structs.replace(settings.upstream, max_event_bytes=EVENT_CAP)
    )
    router = await start_router(settings)
    try:
        yield router, up
    finally:
        await router.stop()
        await up.stop()


async def post_raw(router: RunningRouter, stream: bool) -> tuple[int, bytes]:
    body = {
        "model": "endless/m1",
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }
    reply = await post_chat(router, body)
    return reply.status, reply.body


async def test_an_endless_stream_event_ends_the_stream(
    endless: tuple[RunningRouter, EndlessUpstream],
) -> None:
    router, up = endless
    status, raw = await post_raw(router, stream=True)
    assert status == 200
    frames = [f for f in raw.decode().split("\n\n") if f.startswith("data: ")]
    assert json.loads(frames[0][6:])["choices"][0]["delta"]["content"] == "Hi"
    assert json.loads(frames[-1][6:]) == {
        "error": "model_error",
        "message": "The model provider sent an oversized event",
    }
    assert len(raw) < EVENT_CAP
    # the router hung up long before the upstream's 64 MiB (socket buffers aside)
    await asyncio.sleep(0.1)
    assert up.written < 16 * 1024 * 1024


async def test_an_endless_first_event_is_a_502_before_the_stream_starts(
    endless: tuple[RunningRouter, EndlessUpstream],
) -> None:
    router, up = endless
    up.mode = "event"
    status, raw = await post_raw(router, stream=True)
    assert status == 502
    assert json.loads(raw) == {
        "error": "model_error",
        "message": "The model provider sent an oversized event",
    }


async def test_an_endless_json_body_is_a_502(
    endless: tuple[RunningRouter, EndlessUpstream],
) -> None:
    router, up = endless
    up.mode = "body"
    status, raw = await post_raw(router, stream=False)
    assert status == 502
    assert json.loads(raw) == {
        "error": "model_error",
        "message": "The model provider sent an oversized response",
    }
    await asyncio.sleep(0.1)
    assert up.written < 16 * 1024 * 1024
