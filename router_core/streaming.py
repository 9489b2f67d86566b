"""SSE to the client: OpenAI chunk frames, keep-alives while the upstream is
silent, one error event after the first byte, and the upstream closed at once
when the client goes away (the handler is cancelled; ``finally`` releases it).

Output content filters run here: a hit in the chunks read before the response
starts is a plain 400 ``content_filter``; after that, the chunk that hit is not
sent, one ``content_filter`` error event is, and the stream ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import msgspec
import structlog
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp_sse import EventSourceResponse

from router_core.api.chat import ChatCompletionChunk, ErrorBody, Usage
from router_core.dispatch import OpenStream
from router_core.errors import ContentFilter, RouterError, ServerError
from router_core.filters import OutputScanner

log = structlog.get_logger("viberouter.streaming")
_encoder = msgspec.json.Encoder()
DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"


class ClientStream(EventSourceResponse):
    """aiohttp-sse's response (headers, kernel send timeout for stalled clients) with
    keep-alives sent only after ``keepalive`` seconds without a write, so a busy
    stream carries no comments.

    aiohttp-sse keeps one ping task per stream; with thousands of open streams that
    task (its coroutine frame and its wake-ups) costs more than the stream itself, so
    this response re-arms one timer handle instead and starts a task only for the
    rare keep-alive it actually writes.
    """

    def __init__(self, *, headers: Mapping[str, str], keepalive: float) -> None:
        super().__init__(headers=headers, sep="\n", allow_all_methods=True)
        self._keepalive = keepalive
        self.last_write = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._pinging: asyncio.Task[None] | None = None

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return await super().prepare(request)
        self._set_tcp_user_timeout(request)
        writer = await web.StreamResponse.prepare(self, request)
        if self._keepalive > 0:
            self._timer = asyncio.get_running_loop().call_later(self._keepalive, self._tick)
        return writer

    async def send_bytes(self, data: bytes) -> None:
        self.last_write = time.monotonic()
        await self.write(data)

    def _tick(self) -> None:
        idle = time.monotonic() - self.last_write
        loop = asyncio.get_running_loop()
        if idle >= self._keepalive:
            if self._pinging is None:
                self._pinging = loop.create_task(self._ping_once())
            idle = 0.0
        self._timer = loop.call_later(self._keepalive - idle, self._tick)

    async def _ping_once(self) -> None:
        try:
            await self.send_bytes(KEEPALIVE)
        except (ConnectionResetError, RuntimeError):
            pass  # the client left; the relay notices on its next write
        finally:
            self._pinging = None

    def stop_streaming(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pinging is not None:
            self._pinging.cancel()
            self._pinging = None


@dataclass(slots=True)
class StreamOutcome:
    usage: Usage | None = None
    chunks: int = 0
    completion_chars: int = 0
    first_chunk_at: float | None = None
    error: RouterError | None = None
    disconnected: bool = False
    finish_reasons: list[str] = field(default_factory=list)
    #: Frames before the chunk an output filter refused (sent before the error event).
    blocked_frames: bytes = b""


def _scan(scanner: OutputScanner, chunk: ChatCompletionChunk) -> None:
    for choice in chunk.choices:
        delta = choice.delta
        if isinstance(delta.content, str):
            scanner.feed(choice.index, delta.content)
        if isinstance(delta.tool_calls, list):
            for tc in delta.tool_calls:
                fn = tc.function
                if not isinstance(fn, msgspec.UnsetType) and isinstance(fn.arguments, str):
                    scanner.feed(choice.index, fn.arguments)


def _frames(
    chunks: list[ChatCompletionChunk],
    include_usage: bool,
    out: StreamOutcome,
    scanner: OutputScanner | None = None,
) -> bytes:
    """The SSE frames of ``chunks``. When the scanner refuses a chunk, the frames
    before it are kept in ``out.blocked_frames`` and ContentFilter is raised."""
    parts: list[bytes] = []
    for chunk in chunks:
        usage = chunk.usage
        if isinstance(usage, Usage):
            out.usage = usage
            if not chunk.choices:
                if include_usage:
                    parts.append(b"data: " + _encoder.encode(chunk) + b"\n\n")
                continue
        if scanner is not None:
            try:
                _scan(scanner, chunk)
            except ContentFilter:
                out.blocked_frames = b"".join(parts)
                raise
        chunk.usage = None if include_usage else msgspec.UNSET
        for choice in chunk.choices:
            content = choice.delta.content
            if isinstance(content, str):
                out.completion_chars += len(content)
            if choice.finish_reason is not None:
                out.finish_reasons.append(choice.finish_reason)
        parts.append(b"data: " + _encoder.encode(chunk) + b"\n\n")
        out.chunks += 1
    return b"".join(parts)


def error_frame(err: RouterError) -> bytes:
    return b"data: " + _encoder.encode(ErrorBody(err.code, err.message)) + b"\n\n"


async def relay(
    http_request: web.Request,
    opened: OpenStream,
    *,
    headers: Mapping[str, str],
    include_usage: bool,
    keepalive: float,
    out: StreamOutcome,
    scanner: OutputScanner | None = None,
) -> ClientStream:
    """Commit the 200 + SSE headers and forward every chunk as it arrives.

    ``out`` is filled as the stream goes, so the caller can account for a stream
    the client abandoned (the handler is cancelled then). Raises ContentFilter,
    with nothing sent, when the chunks read before the commit break an output filter."""
    stream = ClientStream(headers=headers, keepalive=keepalive)
    try:
        data = _frames(opened.first_chunks, include_usage, out, scanner)
        await stream.prepare(http_request)
        if data:
            out.first_chunk_at = time.monotonic()
            await stream.send_bytes(data)
        if not opened.ended:
            decoder, translator = opened.decoder, opened.translator
            try:
                async for raw in opened.chunks:
                    chunks: list[ChatCompletionChunk] = []
                    for ev in decoder.feed(raw):
                        chunks.extend(translator.feed(ev))
                    if chunks:
                        data = _frames(chunks, include_usage, out, scanner)
                        if data:
                            if out.first_chunk_at is None:
                                out.first_chunk_at = time.monotonic()
                            await stream.send_bytes(data)
                tail: list[ChatCompletionChunk] = []
                for ev in decoder.close():
                    tail.extend(translator.feed(ev))
                tail.extend(translator.close())
                data = _frames(tail, include_usage, out, scanner)
                if data:
                    await stream.send_bytes(data)
            except RouterError as exc:  # the upstream failed mid-stream, or a filter hit
                out.error = exc
                await stream.send_bytes(out.blocked_frames + error_frame(exc))
                return stream
            except (ConnectionResetError, asyncio.CancelledError):
                raise
            except Exception as exc:
                # The streaming boundary: after the 200 a bug can only end the stream
                # with a server_error event; the traceback goes to the log.
                log.exception("stream_failed")
                out.error = ServerError(detail=f"{exc.__class__.__name__}: {exc}")
                await stream.send_bytes(error_frame(out.error))
                return stream
        await stream.send_bytes(DONE)
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        out.disconnected = True
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        opened.close()
        if stream.prepared:
            stream.stop_streaming()
    return stream
