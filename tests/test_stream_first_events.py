"""A stream's first events may arrive in the same read as the upstream's headers
(``exchange.stream_exchange`` translates them at once, without waiting for a read)
or after them. Every split gives the client the same stream, and a first event that
cannot be translated still fails over to the next deployment before anything is
sent. The upstream is a raw socket server writing exact bytes in chosen writes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)


def _event(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "id": "chatcmpl-fe",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fe-1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


EVENTS = [_event("Hel"), _event("lo"), _event(None, "stop"), b"data: [DONE]\n\n"]
BODY = b"".join(EVENTS)


class RawUpstream:
    """Answers every request with ``writes``: (bytes, seconds to wait after them)."""

    def __init__(self, writes: list[tuple[bytes, float]]) -> None:
        self.writes = writes
        self.requests = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        self.requests += 1
        try:
            for data, pause in self.writes:
                writer.write(data)
                await writer.drain()
                if pause:
                    await asyncio.sleep(pause)
        finally:
            writer.close()


@asynccontextmanager
async def routed(
    tmp_path: Path, first: RawUpstream, second: RawUpstream
) -> AsyncIterator[RunningRouter]:
    servers = [await asyncio.start_server(u._serve, "127.0.0.1", 0) for u in (first, second)]
    for server, up in zip(servers, (first, second), strict=True):
        up.port = server.sockets[0].getsockname()[1]
    extra = "".join(
        f"""
[providers.{name}]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{up.port}/v1", api_key = "k" }}
[providers.{name}.models."fe-1"]
context_length = 100000
"""
        for name, up in (("first", first), ("second", second))
    )
    extra += '\n[routes.fe]\ndeployments = ["first/fe-1", "second/fe-1"]\n'
    router = await start_router(router_settings(tmp_path, extra_toml=extra, retries=0))
    try:
        yield router
    finally:
        await router.stop()
        for server in servers:
            server.close()
            await server.wait_closed()


STREAM = {"model": "fe", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
OK = [(HEAD + _chunked(BODY) + b"0\r\n\r\n", 0.0)]

SPLITS = {
    # headers, every event and the end in one write: all translated with the headers
    "one write": OK,
    # the first event with the headers, the rest after a pause
    "first event with the headers": [
        (HEAD + _chunked(EVENTS[0]), 0.05),
        (_chunked(b"".join(EVENTS[1:])) + b"0\r\n\r\n", 0.0),
    ],
    # half of the first event with the headers: nothing to translate yet, the rest is read
    "half an event with the headers": [
        (HEAD + _chunked(EVENTS[0][:20]), 0.05),
        (_chunked(EVENTS[0][20:] + b"".join(EVENTS[1:])) + b"0\r\n\r\n", 0.0),
    ],
    # the headers alone, the events later
    "headers alone": [(HEAD, 0.05), (_chunked(BODY) + b"0\r\n\r\n", 0.0)],
}


def _content(raw: bytes) -> str:
    out = ""
    for line in raw.decode().split("\n"):
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                out += choice["delta"].get("content") or ""
    return out


@pytest.mark.parametrize("split", list(SPLITS))
async def test_every_split_streams_the_same(tmp_path: Path, split: str) -> None:
    first, second = RawUpstream(SPLITS[split]), RawUpstream(OK)
    async with routed(tmp_path, first, second) as router:
        reply = await post_chat(router, STREAM)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    assert _content(reply.body) == "Hello"
    assert reply.body.endswith(b"data: [DONE]\n\n")
    assert (first.requests, second.requests) == (1, 0)


@pytest.mark.parametrize("with_headers", [True, False])
async def test_an_untranslatable_first_event_fails_over(tmp_path: Path, with_headers: bool) -> None:
    bad = _chunked(b"data: {not json\n\n") + b"0\r\n\r\n"
    writes = [(HEAD + bad, 0.0)] if with_headers else [(HEAD, 0.05), (bad, 0.0)]
    first, second = RawUpstream(writes), RawUpstream(OK)
    async with routed(tmp_path, first, second) as router:
        reply = await post_chat(router, STREAM)
    assert reply.status == 200
    assert _content(reply.body) == "Hello"  # the second deployment's stream, whole
    assert (first.requests, second.requests) == (1, 1)


@pytest.mark.parametrize(
    ("split", "writes"),
    [
        # the whole body came with the headers: one write, end included
        ("one write", 1),
        # the rest comes later: the first event goes out before that read waits
        ("first event with the headers", 2),
        ("headers alone", 1),
    ],
)
async def test_frames_wait_only_for_a_body_already_in(
    tmp_path: Path, split: str, writes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from router_core.streaming import ClientStream

    sent: list[bytes] = []
    ends: list[tuple[int, bool]] = []  # (len(sent), with frames) when the end was written
    send, end = ClientStream.send_bytes, ClientStream.write_eof

    async def recording(self: ClientStream, data: bytes) -> None:
        sent.append(data)
        await send(self, data)

    async def ending(self: ClientStream, data: bytes = b"") -> None:
        if data:
            sent.append(data)
        if not self._eof_sent:
            ends.append((len(sent), bool(data)))
        await end(self, data)

    monkeypatch.setattr(ClientStream, "send_bytes", recording)
    monkeypatch.setattr(ClientStream, "write_eof", ending)
    first, second = RawUpstream(SPLITS[split]), RawUpstream(OK)
    async with routed(tmp_path, first, second) as router:
        reply = await post_chat(router, STREAM)
    assert reply.status == 200 and _content(reply.body) == "Hello"
    assert len(sent) == writes, sent
    assert sent[-1].endswith(b"data: [DONE]\n\n")
    # the last frames carry the body's end (the chunked terminator) in the same write,
    # not a write of its own after the handler returned
    assert ends == [(writes, True)]
    if writes == 2:
        # written while the upstream paused, before its next events came
        assert b'"Hel"' in sent[0] and b'"lo"' not in sent[0]


@pytest.mark.parametrize("split", [False, True])
async def test_a_stream_that_fails_after_tokens_records_its_first_token(
    tmp_path: Path, split: bool
) -> None:
    # tokens, then the body ends without a finish: the error comes at the end. Whole
    # with the headers, the tokens' frames are held and go out with the error event.
    unfinished = EVENTS[0] + EVENTS[1]
    if split:
        writes = [(HEAD + _chunked(EVENTS[0]), 0.05), (_chunked(EVENTS[1]) + b"0\r\n\r\n", 0.0)]
    else:
        writes = [(HEAD + _chunked(unfinished) + b"0\r\n\r\n", 0.0)]
    first, second = RawUpstream(writes), RawUpstream(OK)
    async with routed(tmp_path, first, second) as router:
        reply = await post_chat(router, STREAM)
        ttft = router.state.metrics.registry.get_sample_value(
            "viberouter_time_to_first_token_seconds_count", {"model": "fe", "provider": "first"}
        )
    assert reply.status == 200
    frames = [f for f in reply.body.split(b"\n\n") if f]
    assert b'"error"' in frames[-1] and b"ended early" in frames[-1], frames
    body_without_error = b"\n\n".join(frames[:-1]) + b"\n\n"
    assert _content(body_without_error) == "Hello"
    assert (first.requests, second.requests) == (1, 0)
    assert ttft == 1
