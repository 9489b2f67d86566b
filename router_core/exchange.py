"""One attempt's exchange with an upstream: a JSON answer, or a stream opened.

A stream may still fail over until it is committed: until its first chunks are
translated, or until ``commit_delay`` passes with the upstream silent (the client
then gets its SSE headers and keep-alives). Events that arrived with the headers
are translated at once; only when they hold no chunk yet is the first read waited
for, in a task of its own. The read in progress at that moment is
handed to the :class:`StreamBody`, not cancelled: cancelling it would end the
chunk iterator. After the commit a failure is the stream's error event, recorded
through :meth:`Health.failed` like any other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from router_core.api.chat import ChatCompletion, ChatRequest
from router_core.attempts import AttemptScope
from router_core.catalog import Target
from router_core.errors import RouterError
from router_core.plugin_api import StreamTranslator
from router_core.stream_iter import Batch, Batches, ChunkReader
from router_core.upstream import UpstreamClient, UpstreamResponse


async def read_answer(
    upstream: UpstreamClient, scope: AttemptScope
) -> tuple[bytes, UpstreamResponse]:
    """Send, read the whole body under one deadline (first token, then total). An error
    status is raised as the plugin's mapped error. The connection and the deployment's
    slot are given back before this returns or raises; the caller parses the body
    (the response's headers stay readable)."""
    target, clock = scope.target, scope.clock
    plugin = target.plugin
    resp: UpstreamResponse | None = None
    try:
        with clock.json_phase(upstream.deadlines) as timer:
            resp = await upstream.send(plugin, scope.upstream_request, clock, timed_reads=False)
            timer.headers_arrived()
            body = await resp.read(timer)
        if not 200 <= resp.status < 300:
            raise plugin.map_error(resp.status, resp.headers, body)
        return body, resp
    finally:
        scope.release()
        if resp is not None:
            resp.release()


async def json_exchange(
    upstream: UpstreamClient, scope: AttemptScope, request: ChatRequest
) -> ChatCompletion:
    """The whole answer (:func:`read_answer`), parsed by the plugin."""
    body, _ = await read_answer(upstream, scope)
    target = scope.target
    completion = target.plugin.parse_response(request, target.deployment, body)
    scope.health.first_token(scope)
    return completion


async def open_response(upstream: UpstreamClient, scope: AttemptScope) -> UpstreamResponse:
    """Send under the first-token deadline and return the accepted (2xx) response,
    whose body and the deployment's slot the caller then owns. An error status is
    read under the total deadline and raised as the plugin's mapped error; on any
    failure the connection and the slot are given back."""
    clock, plugin = scope.clock, scope.target.plugin
    try:
        # the JSON exchange's deadline (the process's sweep, no timer handle): its
        # expiry before the headers is the attempt's "no first token in time"
        with clock.json_phase(upstream.deadlines):
            resp = await upstream.send(plugin, scope.upstream_request, clock)
    except BaseException:
        scope.release()
        raise
    if 200 <= resp.status < 300:
        return resp
    try:
        try:
            async with asyncio.timeout(clock.left()):
                body = await resp.read()
        except TimeoutError as exc:
            raise clock.expired(first_seen=True) from exc
        raise plugin.map_error(resp.status, resp.headers, body)
    finally:
        scope.release()
        resp.release()


@dataclass(slots=True)
class OpenStream:
    """An accepted upstream stream: the chunks already translated and the rest."""

    target: Target
    response: UpstreamResponse
    first_chunks: Batch
    body: StreamBody | None  # None: the upstream body already ended

    def close(self) -> None:
        """Release the upstream connection and the deployment's in-flight slot."""
        self.response.release()
        if self.body is not None:
            self.body.close()


async def stream_exchange(
    upstream: UpstreamClient,
    scope: AttemptScope,
    request: ChatRequest,
    commit_delay: float,
    max_event_bytes: int,
) -> OpenStream:
    """Send, then translate until the first chunks or the commit (module docstring)."""
    target = scope.target
    resp = await open_response(upstream, scope)
    try:
        plugin, deployment = target.plugin, target.deployment
        as_sent = plugin.as_sent_translator(request, deployment)
        translator: StreamTranslator = (
            as_sent if as_sent is not None else plugin.stream_translator(request, deployment)
        )
        framing = scope.upstream_request.framing
        reader = ChunkReader(framing, translator, max_event_bytes, as_sent)
        # The events that came with the headers, translated without a read: when they
        # hold the first token no read is waited for before the commit.
        first = reader.step(resp.buffered())
        it = Batches(reader, resp)
        pending: asyncio.Future[Batch] | None = None
        ended = False
        if not first:
            first, pending, ended = await _pre_read(it, scope, commit_delay)
    except BaseException:
        scope.release()
        resp.release()
        raise
    if first:
        scope.health.first_token(scope)
    if ended:
        scope.release()
        return OpenStream(target, resp, first, None)
    if first:
        resp.flowing()
    return OpenStream(target, resp, first, StreamBody(it, pending, scope, resp, bool(first)))


async def _pre_read(
    it: AsyncIterator[Batch], scope: AttemptScope, commit_delay: float
) -> tuple[Batch, asyncio.Future[Batch] | None, bool]:
    """(first chunks, the read handed over at the commit, the body ended)."""
    clock = scope.clock
    commit_at = time.monotonic() + commit_delay
    pending: asyncio.Future[Batch] = asyncio.ensure_future(it.__anext__())
    try:
        while True:
            now = time.monotonic()
            if now >= clock.first_token_at:
                raise clock.expired(first_seen=False)
            if now >= commit_at:
                return [], pending, False
            done, _ = await asyncio.wait(
                (pending,), timeout=min(commit_at, clock.first_token_at) - now
            )
            if done:
                try:
                    return pending.result(), None, False
                except StopAsyncIteration:
                    return [], None, True
    except BaseException:
        pending.cancel()
        raise


class StreamBody:
    """The rest of a committed stream, as chunk batches, under the attempt's
    first-token (until the first batch), idle (per read) and total timeouts. Its end
    or failure settles the deployment's in-flight count; a failure is recorded once
    through :meth:`Health.failed` (scrubbed of credentials) and raised; only the
    connection's own failures (timeouts, resets) count against the circuit."""

    __slots__ = ("_first_seen", "_it", "_pending", "_response", "_scope")

    def __init__(
        self,
        it: AsyncIterator[Batch],
        pending: asyncio.Future[Batch] | None,
        scope: AttemptScope,
        response: UpstreamResponse,
        first_seen: bool,
    ) -> None:
        self._it = it
        self._pending = pending
        self._scope = scope
        self._response = response
        self._first_seen = first_seen

    def __aiter__(self) -> StreamBody:
        return self

    async def __anext__(self) -> Batch:
        clock = self._scope.clock
        pending, self._pending = self._pending, None
        try:
            if self._first_seen:
                # Flowing: each read is bounded by the idle timeout already (the process's
                # idle sweep, or the in-process reader's timer); the total is checked per
                # batch.
                if clock.over():
                    raise TimeoutError
                batch = await (pending if pending is not None else self._it.__anext__())
            else:
                async with asyncio.timeout(clock.first_token_left()):
                    batch = await (pending if pending is not None else self._it.__anext__())
                self._first_seen = True
                self._scope.health.first_token(self._scope)
                self._response.flowing()
        except StopAsyncIteration:
            self.close()
            raise
        except TimeoutError as exc:
            raise self._fail(clock.expired(first_seen=self._first_seen), True) from exc
        except RouterError as exc:
            raise self._fail(exc, exc is self._response.transport_error) from None
        return batch

    def _fail(self, exc: RouterError, transport: bool) -> RouterError:
        self.close()
        return self._scope.health.failed(self._scope, exc, verdict=transport)

    def close(self) -> None:
        """Give the deployment's in-flight slot back (idempotent)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._scope.release()
