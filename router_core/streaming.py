"""SSE to the client: the dialect's frames, keep-alives while the upstream is
silent, one error event after the first byte, and the upstream closed at once
when the client goes away (the handler is cancelled; ``finally`` releases it).
The chunks come from dispatch's stream iterator; this module only frames and writes.

Output content filters run here: a hit in the chunks read before the response
starts is a plain 400 ``content_filter``; after that, the chunk that hit is not
sent, one ``content_filter`` error event is, and the stream ends.

Frames wait for the next batch only while the upstream's whole body is already in
(``UpstreamResponse.ended()``): the rest then comes without waiting, so a short
answer goes out in one write with its end, not one write per batch; a stream that
still flows is written batch by batch, before each read that may wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import msgspec
import structlog
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp_sse import EventSourceResponse

from router_core.accounting import StreamOutcome
from router_core.api.chat import ChatCompletionChunk, Usage
from router_core.dialects.base import KEEPALIVE_COMMENT, StreamEncoder
from router_core.drain import take_cut
from router_core.errors import ContentFilter, RouterError, ServerError
from router_core.exchange import OpenStream
from router_core.filters import OutputScanner
from router_core.stream_iter import Batch
from router_core.timeouts import KeepAliveSweep
from router_core.token_runs import TokenRun

log = structlog.get_logger("viberouter.streaming")


class ClientStream(EventSourceResponse):
    """aiohttp-sse's response (its headers) with keep-alives sent only after
    ``keepalive`` seconds without a write, so a busy stream carries no comments.

    aiohttp-sse keeps one ping task per stream; with thousands of open streams that
    task (its coroutine frame and its wake-ups) costs more than the stream itself, so
    the process's :class:`KeepAliveSweep` checks every stream's last write instead and
    a task is started only for the rare keep-alive actually written.

    The header block is held by aiohttp until the first bytes written and goes out
    with them in one write, where a plain StreamResponse writes it alone first: that
    separate write cost ~0.1 ms of the first token at concurrency 1 (docs/
    performance.md). :meth:`flush_headers` sends it alone when there is nothing yet.
    """

    _send_headers_immediately = False

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        keepalive: float,
        sweep: KeepAliveSweep,
        ping: bytes = KEEPALIVE_COMMENT,
    ) -> None:
        # send_timeout=None: the listener sets TCP_USER_TIMEOUT once for every connection
        # (http_server.limit_unacked_sends) instead of once per stream
        super().__init__(headers=headers, sep="\n", allow_all_methods=True, send_timeout=None)
        self.keepalive = keepalive
        self._sweep = sweep
        self._ping_frame = ping
        self.last_write = time.monotonic()
        self._pinging: asyncio.Task[None] | None = None
        #: The body's end is written (its flush may still wait on the client): no byte
        #: may follow it, neither a keep-alive nor an error event.
        self.ending = False

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if self.prepared:
            return await super().prepare(request)
        writer = await web.StreamResponse.prepare(self, request)
        # The header block is serialized now (it goes out with the first write). The
        # multidict, with the key objects it caches once iterated, would otherwise stay
        # for the stream's whole life: about 3 KB of each held stream.
        self.headers.clear()
        if self.keepalive > 0:
            self._sweep.add(self, self.keepalive)
        return writer

    def flush_headers(self) -> None:
        """Send the header block now if no bytes carried it yet (a commit with
        nothing to say: the client still learns the stream started)."""
        writer = self._payload_writer
        send = getattr(writer, "send_headers", None)  # aiohttp < 3.12 sent them at once
        if send is not None:
            send()

    async def send_bytes(self, data: bytes) -> None:
        self.last_write = time.monotonic()
        await self.write(data)

    def ping(self) -> None:
        """One keep-alive, written by its own short task (the sweep does not wait)."""
        if self._pinging is None and not self.ending:
            self.last_write = time.monotonic()
            self._pinging = asyncio.get_running_loop().create_task(self._ping_once())

    async def _ping_once(self) -> None:
        try:
            await self.send_bytes(self._ping_frame)
        except (ConnectionResetError, RuntimeError):
            pass  # the client left; the relay notices on its next write
        finally:
            self._pinging = None

    async def write_eof(self, data: bytes = b"") -> None:
        # aiohttp marks the end as sent only after its flush, which waits on a slow
        # client; a keep-alive or an error event written meanwhile would follow the
        # chunked terminator and break the connection's framing.
        self.ending = True
        self.stop_streaming()
        await super().write_eof(data)

    def stop_streaming(self) -> None:
        self._sweep.discard(self)
        if self._pinging is not None:
            self._pinging.cancel()
            self._pinging = None


def scan_chunk(scanner: OutputScanner, chunk: ChatCompletionChunk) -> None:
    """Feed one chunk's content and tool arguments to the output filters."""
    for choice in chunk.choices:
        delta = choice.delta
        if isinstance(delta.content, str):
            scanner.feed(choice.index, delta.content)
        if isinstance(delta.tool_calls, list):
            for tc in delta.tool_calls:
                fn = tc.function
                if not isinstance(fn, msgspec.UnsetType) and isinstance(fn.arguments, str):
                    scanner.feed(choice.index, fn.arguments)


def _run_frames(
    run: TokenRun,
    encoder: StreamEncoder,
    out: StreamOutcome,
    scanner: OutputScanner | None,
) -> bytes:
    """The frames of a run of text-token events: the encoder's own when it frames
    runs (and no output filter reads them), else each event's, as they would have
    come from the translator."""
    feed_run = getattr(encoder, "feed_run", None)
    if scanner is None and feed_run is not None:
        frames: bytes | None = feed_run(run)
        if frames is not None:
            out.observe_texts(run.texts)
            return frames
    return frame_batch(run.forwarded(), encoder, out, scanner)


def frame_batch(
    chunks: Batch,
    encoder: StreamEncoder,
    out: StreamOutcome,
    scanner: OutputScanner | None = None,
) -> bytes:
    """The frames of ``chunks``. When the scanner refuses a chunk, the frames
    before it are kept in ``out.blocked_frames`` and ContentFilter is raised.
    A chunk paired with its upstream data (``stream_iter.Forwarded``) is read like
    any other and framed from its data; a ``stream_iter.TokenRun`` by
    :func:`_run_frames`."""
    parts: list[bytes] = []
    for item in chunks:
        if isinstance(item, tuple):
            chunk, data = item
        elif isinstance(item, TokenRun):
            try:
                parts.append(_run_frames(item, encoder, out, scanner))
            except ContentFilter:
                out.blocked_frames = b"".join(parts) + out.blocked_frames
                raise
            continue
        else:
            chunk, data = item, None
        if isinstance(chunk.usage, Usage):
            out.usage = chunk.usage
            if not chunk.choices:
                parts.append(encoder.feed(chunk))
                continue
        if scanner is not None:
            try:
                scan_chunk(scanner, chunk)
            except ContentFilter:
                out.blocked_frames = b"".join(parts)
                raise
        out.observe(chunk)
        if data is None:
            parts.append(encoder.feed(chunk))
        else:
            parts.append(encoder.feed_as_sent(chunk, data))
    return b"".join(parts)


async def _send(stream: ClientStream, data: bytes, out: StreamOutcome) -> None:
    if data:
        if out.first_chunk_at is None:
            out.first_chunk_at = time.monotonic()
        await stream.send_bytes(data)


def _failure_frames(
    http_request: web.Request, exc: BaseException, encoder: StreamEncoder, out: StreamOutcome
) -> bytes:
    """The frames that end a stream that failed after its commit: one error event
    (after the frames an output filter let through before its hit). A cancellation
    that is not the drain's cut is re-raised: the client left."""
    if isinstance(exc, RouterError):  # the upstream failed mid-stream, or a filter hit
        out.error = exc
        return out.blocked_frames + encoder.error(exc)
    if isinstance(exc, asyncio.CancelledError):
        # The drain's deadline cut this stream (drain.py): end it with the error event.
        out.error = take_cut(http_request)
        if out.error is None:
            raise exc
        return encoder.error(out.error)
    # The streaming boundary: after the 200 a bug can only end the stream with a
    # server_error event; the traceback goes to the log.
    log.exception("stream_failed")
    out.error = ServerError(detail=f"{exc.__class__.__name__}: {exc}")
    return encoder.error(out.error)


async def _commit(
    http_request: web.Request,
    stream: ClientStream,
    opened: OpenStream,
    encoder: StreamEncoder,
    out: StreamOutcome,
    scanner: OutputScanner | None,
) -> bytes:
    """The 200 and the SSE headers; returns the first batch's frames, which go out
    with the headers in the relay's first write (the headers alone at once when there
    is no frame yet)."""
    data = encoder.start() + frame_batch(opened.first_chunks, encoder, out, scanner)
    # Neither the first batch nor its frames are needed again; a held stream would
    # otherwise keep both (about 1 KB) until it ends.
    opened.first_chunks = ()
    await stream.prepare(http_request)
    if not data:
        stream.flush_headers()
    return data


async def _send_last(stream: ClientStream, held: bytes, last: bytes, out: StreamOutcome) -> None:
    """The held frames and the stream's last ones (its end, or its error event) in one
    write with the body's end (the chunked terminator, which aiohttp would otherwise
    write alone after the handler returned: one system call less per stream); only
    held frames make a first token."""
    if stream.ending:
        return  # the end is out and its flush was cut (the drain): nothing may follow
    if held and out.first_chunk_at is None:
        out.first_chunk_at = time.monotonic()
    await stream.write_eof(held + last)


async def relay(
    http_request: web.Request,
    opened: OpenStream,
    *,
    encoder: StreamEncoder,
    headers: dict[str, str],
    keepalive: float,
    sweep: KeepAliveSweep,
    out: StreamOutcome,
    scanner: OutputScanner | None = None,
    on_end: Callable[[], None] | None = None,
) -> ClientStream:
    """Commit the 200 + SSE headers (``headers`` is emptied once they are sent) and
    forward every chunk as it arrives; a failure after the commit is one error event;
    ``on_end`` is called once it is over, however it ended.

    ``out`` is filled as the stream goes, so the caller can account for a stream
    the client abandoned (the handler is cancelled then). Raises ContentFilter,
    with nothing sent, when the chunks read before the commit break an output filter.
    The batch loop is in this frame, not a helper's: an open stream keeps every
    coroutine frame of its chain (about 0.3 KB each) until it ends. Frames are held
    for the next batch only while the upstream's body is all in (module docstring)."""
    stream: ClientStream | None = None
    try:
        stream = ClientStream(
            headers=headers, keepalive=keepalive, sweep=sweep, ping=encoder.keepalive()
        )
        held = await _commit(http_request, stream, opened, encoder, out, scanner)
        headers.clear()  # sent: the request's copy would live as long as the stream
        try:
            body = opened.body
            if body is not None:
                while True:
                    if held and not opened.response.ended():
                        data, held = held, b""
                        await _send(stream, data, out)  # before a read that may wait
                    try:
                        chunks = await body.__anext__()
                    except StopAsyncIteration:
                        break
                    held += frame_batch(chunks, encoder, out, scanner)
            data, held = held, b""
            await _send_last(stream, data, encoder.close(), out)
        except ConnectionResetError:
            raise
        except (Exception, asyncio.CancelledError) as exc:
            # what was translated before the failure, then its error event
            await _send_last(stream, held, _failure_frames(http_request, exc, encoder, out), out)
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        out.disconnected = True
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        opened.close()
        if stream is not None and stream.prepared:
            stream.stop_streaming()
        if on_end is not None:
            on_end()
    assert stream is not None  # set before anything that can fail, or raised above
    return stream
