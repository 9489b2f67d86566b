"""Native pass-through: a deployment whose plugin speaks the client's dialect gets the
client's own body (the plugin changes only ``model``), and the client gets the
upstream's own answer back: a JSON body byte for byte, a stream event for event. A
plugin-supplied usage tap reads usage and the final status from what passes by, so
limits, billing and metrics stay exact.

These are one more kind of exchange for the same attempt loop (retries, fallbacks,
circuits and timeouts are the dispatcher's): until a native stream commits (its
first output event, or the keep-alive delay) a failure may still move on to the next
deployment, which may be a translated one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from router_core import exchange as translated
from router_core.accounting import StreamOutcome
from router_core.api.chat import ChatCompletion, ChatRequest
from router_core.attempts import AttemptScope, CallLog
from router_core.catalog import Target
from router_core.dialects.base import ChatCall, Dialect
from router_core.errors import InvalidRequest, RouterError, ServerError
from router_core.filters import OutputScanner
from router_core.framing import UpstreamEvent, make_decoder
from router_core.plugin_api import UpstreamRequest, UsageTap
from router_core.state import RouterState
from router_core.streaming import ClientStream, scan_chunk
from router_core.timeouts import KeepAliveSweep
from router_core.upstream import UpstreamClient, UpstreamResponse
from router_core.upstream_secrets import scrub_bytes, secret_bytes

log = structlog.get_logger("viberouter.native")


def may_serve_natively(dialect: Dialect, targets: Sequence[Target]) -> bool:
    """Whether any target's plugin lists ``dialect`` (and the dialect can be native)."""
    return dialect.native_endpoint is not None and any(
        dialect.name in t.plugin.native_dialects for t in targets
    )


@dataclass(slots=True)
class NativeBuilder:
    """The upstream request per target: native where the plugin serves the dialect
    natively (and agrees to, for this deployment), translated otherwise, or the
    call's ``untranslatable`` when it cannot be translated (the attempt loop then
    moves on, and answers that error when no target is left)."""

    dialect: Dialect
    call: ChatCall
    headers: Mapping[str, str]
    translated: Callable[[Target], UpstreamRequest]
    native: set[str] = field(default_factory=set)

    def __call__(self, target: Target) -> UpstreamRequest:
        plugin, name, endpoint = target.plugin, self.dialect.name, self.dialect.native_endpoint
        if endpoint is not None and name in plugin.native_dialects:
            try:
                built = plugin.build_native_request(
                    name,
                    endpoint,
                    self.call.body,
                    self.dialect.forwarded_headers(self.headers),
                    target.deployment,
                    stream=self.call.stream,
                )
            except InvalidRequest:
                pass  # not natively on this deployment: translate
            else:
                self.native.add(target.deployment.id)
                return built
        self.native.discard(target.deployment.id)
        if self.call.untranslatable is not None:
            raise self.call.untranslatable
        return self.translated(target)

    def tap_for(self, target: Target) -> UsageTap | None:
        """A fresh usage tap when ``target`` was built natively, else None."""
        if target.deployment.id not in self.native:
            return None
        return target.plugin.usage_tap(self.dialect.name, target.deployment)


@dataclass(slots=True)
class NativeAnswer:
    """A whole JSON answer from a native upstream, as it came."""

    target: Target
    body: bytes
    content_type: str
    tap: UsageTap | None  # None: nothing to count (e.g. Anthropic's count_tokens)


async def json_exchange(
    upstream: UpstreamClient, scope: AttemptScope, tap: UsageTap | None
) -> NativeAnswer:
    """The whole answer (:func:`exchange.read_answer`), read by the tap (if any)."""
    body, resp = await translated.read_answer(upstream, scope)
    if tap is not None:
        tap.read_body(body)
    scope.health.first_token(scope)
    content_type = resp.headers.get("Content-Type", "application/json")
    body = scrub_bytes(body, secret_bytes(scope.upstream_request))
    return NativeAnswer(scope.target, body, content_type, tap)


Events = list[UpstreamEvent]
#: Bytes as read from the upstream, and the events they completed (for the tap).
Batch = tuple[bytes, Events]


#: Where an event ends, per framing: an SSE blank line (any line ending), an NDJSON newline.
_EVENT_ENDS: dict[str, tuple[bytes, ...]] = {
    "sse": (b"\n\n", b"\r\n\r\n", b"\r\r"),
    "ndjson": (b"\n",),
}


def whole_events(data: bytes, framing: str) -> int:
    """How many leading bytes of ``data`` are whole events (the rest waits for the
    read that completes it), so nothing written to the client ends mid-event and a
    keep-alive written while the upstream is silent never splits one."""
    ends = _EVENT_ENDS.get(framing)
    if ends is None:
        return len(data)
    return max((data.rfind(end) + len(end) if end in data else 0) for end in ends)


async def _batches(
    resp: UpstreamResponse, framing: str, max_event_bytes: int
) -> AsyncIterator[Batch]:
    decoder = make_decoder(framing, max_event_bytes)
    held = b""
    async for raw in resp.iter_chunks():
        data = held + raw if held else raw
        cut = whole_events(data, framing)
        if len(data) - cut > max_event_bytes:
            cut = len(data)  # let the decoder refuse the oversized event
        whole, held = data[:cut], data[cut:]
        if whole:
            yield whole, decoder.feed(whole)
    tail = [*decoder.feed(held), *decoder.close()] if held else decoder.close()
    if held or tail:
        yield held, tail


@dataclass(slots=True)
class NativeStream:
    """An accepted native stream: the events read before the commit, and the rest."""

    target: Target
    response: UpstreamResponse
    scope: AttemptScope
    first: bytes
    pending: asyncio.Future[Batch] | None
    rest: AsyncIterator[Batch] | None
    tap: UsageTap
    #: The attempt's credentials: no relayed byte may carry them (upstream_secrets.py).
    secrets: tuple[bytes, ...] = ()

    def close(self) -> None:
        """Release the upstream connection and the deployment's in-flight slot."""
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        self.response.release()
        self.scope.release()

    async def batches(self) -> AsyncIterator[Batch]:
        """The events after the commit, under the attempt's total timeout (each read
        is bounded by the idle timeout already)."""
        clock = self.scope.clock
        if self.pending is not None:
            pending, self.pending = self.pending, None
            try:
                yield await pending
            except StopAsyncIteration:
                return
        if self.rest is None:
            return
        async for batch in self.rest:
            if clock.over():
                raise TimeoutError
            yield batch


async def stream_exchange(
    upstream: UpstreamClient,
    scope: AttemptScope,
    tap: UsageTap,
    commit_delay: float,
    max_event_bytes: int,
) -> NativeStream:
    """Send, then read until the tap sees output or ``commit_delay`` passes (before
    that an error, in-band or not, still fails over)."""
    clock = scope.clock
    resp = await translated.open_response(upstream, scope)
    try:
        it = _batches(resp, scope.upstream_request.framing, max_event_bytes)
        first, pending, ended = await _until_commit(it, tap, clock.first_token_at, commit_delay)
    except TimeoutError as exc:
        scope.release()
        resp.release()
        raise clock.expired(first_seen=False) from exc
    except BaseException:
        scope.release()
        resp.release()
        raise
    if first:
        scope.health.first_token(scope)
        if not ended:
            resp.flowing()  # the idle sweep bounds its silences from here (upstream.py)
    secrets = secret_bytes(scope.upstream_request)
    return NativeStream(
        scope.target, resp, scope, first, pending, None if ended else it, tap, secrets
    )


async def _until_commit(
    it: AsyncIterator[Batch], tap: UsageTap, first_token_at: float, commit_delay: float
) -> tuple[bytes, asyncio.Future[Batch] | None, bool]:
    """(bytes read, the read in progress at the commit, the body ended). Bounded by
    the first-token deadline and the commit delay. The read in progress is handed on,
    not cancelled: cancelling it would end the iterator."""
    seen: list[bytes] = []
    commit_at = time.monotonic() + commit_delay
    pending: asyncio.Future[Batch] = asyncio.ensure_future(it.__anext__())
    try:
        while True:
            now = time.monotonic()
            if now >= first_token_at:
                raise TimeoutError
            if now >= commit_at:
                return b"".join(seen), pending, False
            done, _ = await asyncio.wait((pending,), timeout=min(commit_at, first_token_at) - now)
            if not done:
                continue
            try:
                raw, events = pending.result()
            except StopAsyncIteration:
                tap.close()
                return b"".join(seen), None, True
            committed = [tap.feed(event) for event in events]
            seen.append(raw)
            if any(committed):
                return b"".join(seen), None, False
            pending = asyncio.ensure_future(it.__anext__())
    except BaseException:
        pending.cancel()
        raise


class OutputScan:
    """Output content filters over a native stream: the plugin translates its own
    upstream's events (it speaks that format) and the chunks go to the scanner, on a
    decoder of their own, so the relay's bytes and the tap are untouched. Built only
    when filters are configured."""

    __slots__ = ("_decoder", "_scanner", "_translator")

    def __init__(
        self, opened: NativeStream, scanner: OutputScanner, request: ChatRequest, max_event: int
    ) -> None:
        target = opened.target
        self._decoder = make_decoder(opened.scope.upstream_request.framing, max_event)
        self._translator = target.plugin.stream_translator(request, target.deployment)
        self._scanner = scanner

    def check(self, raw: bytes) -> None:
        """Raise ContentFilter when the content these bytes complete breaks a filter
        (before they are written)."""
        for event in self._decoder.feed(raw):
            try:
                chunks = self._translator.feed(event)
            except RouterError:
                return  # the upstream's in-band error: the tap reports it
            for chunk in chunks:
                scan_chunk(self._scanner, chunk)


async def relay(
    http_request: web.Request,
    opened: NativeStream,
    *,
    headers: dict[str, str],
    keepalive: float,
    sweep: KeepAliveSweep,
    out: StreamOutcome,
    error_frames: Callable[[RouterError], bytes],
    scan: OutputScan | None = None,
    on_end: Callable[[], None] | None = None,
) -> ClientStream:
    """Commit the 200 (``headers`` is emptied once sent) and relay the upstream's
    bytes as they come; the tap reads the events they complete (``out.usage``). A
    failure after the commit is one error event of the client's dialect; so is an
    output filter's hit (the bytes that completed it are not sent). ``on_end`` is
    called once it is over, however it ended."""
    stream = ClientStream(headers=headers, keepalive=keepalive, sweep=sweep)
    try:
        await stream.prepare(http_request)
        headers.clear()  # sent: the request's copy would live as long as the stream
        out.first_chunk_at = time.monotonic()
        try:
            await _forward(stream, opened, out, scan)
        except RouterError as exc:
            out.error = exc
            await stream.send_bytes(error_frames(exc))
        except TimeoutError:
            out.error = opened.scope.clock.expired(first_seen=True)
            await stream.send_bytes(error_frames(out.error))
        except Exception as exc:  # the streaming boundary, as in streaming.relay
            log.exception("native_stream_failed")
            out.error = ServerError(detail=f"{exc.__class__.__name__}: {exc}")
            await stream.send_bytes(error_frames(out.error))
    except (ConnectionResetError, asyncio.CancelledError) as exc:
        out.disconnected = True
        if isinstance(exc, asyncio.CancelledError):
            raise
    finally:
        out.usage = opened.tap.usage()
        opened.close()
        if stream.prepared:
            stream.stop_streaming()
        if on_end is not None:
            on_end()
    return stream


async def _forward(
    stream: ClientStream, opened: NativeStream, out: StreamOutcome, scan: OutputScan | None
) -> None:
    """The upstream's bytes to the client as they come (scrubbed, scanned, tapped)."""
    secrets = opened.secrets
    if opened.first:
        if scan is not None:
            scan.check(opened.first)
        await stream.send_bytes(scrub_bytes(opened.first, secrets))
    stream.flush_headers()
    async for raw, events in opened.batches():
        raw = scrub_bytes(raw, secrets)
        if scan is not None:
            scan.check(raw)
        try:
            for event in events:
                opened.tap.feed(event)
        except RouterError as exc:
            # The upstream's own in-band error: the client gets it as sent.
            out.error = exc
            await stream.send_bytes(raw)
            return
        if raw:
            await stream.send_bytes(raw)
    opened.tap.close()


async def complete(
    state: RouterState,
    dialect: Dialect,
    call: ChatCall,
    targets: Sequence[Target],
    request: ChatRequest,
    headers: Mapping[str, str],
    calls: CallLog,
) -> tuple[Target, ChatCompletion | NativeAnswer]:
    """A non-streamed answer from the first target that gives one: the upstream's own
    body where the target serves the dialect natively, a completion otherwise."""
    builder = NativeBuilder(
        dialect, call, headers, state.dispatcher.builder(request, call.extras_source)
    )
    upstream = state.upstream

    async def run(scope: AttemptScope) -> ChatCompletion | NativeAnswer:
        tap = builder.tap_for(scope.target)
        if tap is not None:
            return await json_exchange(upstream, scope, tap)
        return await translated.json_exchange(upstream, scope, request)

    return await state.dispatcher.run(targets, request.model, calls, builder, run)


async def open_stream(
    state: RouterState,
    dialect: Dialect,
    call: ChatCall,
    targets: Sequence[Target],
    request: ChatRequest,
    headers: Mapping[str, str],
    calls: CallLog,
) -> tuple[Target, translated.OpenStream | NativeStream]:
    """An accepted stream from the first target that gives one (native or translated),
    failing over until it commits."""
    builder = NativeBuilder(
        dialect, call, headers, state.dispatcher.builder(request, call.extras_source)
    )
    upstream = state.upstream
    commit_delay = state.settings.server.sse_keepalive_s or 15.0
    max_event = state.settings.upstream.max_event_bytes

    async def run(scope: AttemptScope) -> translated.OpenStream | NativeStream:
        tap = builder.tap_for(scope.target)
        if tap is not None:
            return await stream_exchange(upstream, scope, tap, commit_delay, max_event)
        return await translated.stream_exchange(upstream, scope, request, commit_delay, max_event)

    return await state.dispatcher.run(targets, request.model, calls, builder, run)


__all__ = [
    "NativeAnswer",
    "NativeBuilder",
    "NativeStream",
    "OutputScan",
    "complete",
    "json_exchange",
    "may_serve_natively",
    "open_stream",
    "relay",
    "stream_exchange",
]
