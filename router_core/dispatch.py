"""Pick a deployment, call upstream, retry / fall back, time out.

The core does all I/O here; plugins only build requests and translate answers.
A request may be retried or moved to the next deployment only while nothing has
reached the client: for streams, until the stream is committed (first chunks
translated, or the keep-alive delay passed).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import msgspec

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest
from router_core.catalog import Target
from router_core.errors import (
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamTimeout,
)
from router_core.metrics import Metrics
from router_core.plugin_api import StreamTranslator, UpstreamRequest
from router_core.settings import UpstreamSettings
from router_core.upstream import EventDecoder, UpstreamClient, UpstreamResponse, make_decoder

#: Longest upstream Retry-After the dispatcher waits out before moving on.
MAX_RETRY_WAIT_S = 5.0


@dataclass(slots=True)
class Attempt:
    deployment: str
    outcome: str  # "ok" or an error code
    seconds: float


@dataclass(slots=True)
class CallLog:
    """What dispatch did for one request (for the request log and headers)."""

    attempts: list[Attempt] = field(default_factory=list)
    upstream_wait: float = 0.0  # seconds spent waiting on upstreams

    def summary(self) -> str:
        return ",".join(f"{a.deployment}:{a.outcome}" for a in self.attempts)


@dataclass(slots=True)
class OpenStream:
    """An accepted upstream stream and the chunks already translated from it."""

    target: Target
    response: UpstreamResponse
    decoder: EventDecoder
    translator: StreamTranslator
    first_chunks: list[ChatCompletionChunk]
    ended: bool  # the upstream body already ended while pre-reading
    chunks: AsyncIterator[bytes]  # the rest of the upstream body


class Dispatcher:
    """Runs a request against a route's targets with retries and fallbacks."""

    def __init__(self, upstream: UpstreamClient, settings: UpstreamSettings, metrics: Metrics):
        self._upstream = upstream
        self._settings = settings
        self._metrics = metrics
        self._extras_decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[msgspec.Struct]] = {}

    def _extras(self, target: Target, raw_body: bytes) -> msgspec.Struct | None:
        typ = target.plugin.extra_params
        if typ is None:
            return None
        dec = self._extras_decoders.get(typ)
        if dec is None:
            dec = msgspec.json.Decoder(typ)
            self._extras_decoders[typ] = dec
        try:
            return dec.decode(raw_body)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"Invalid request: {exc}") from exc

    async def _attempts(
        self,
        targets: Sequence[Target],
        request: ChatRequest,
        raw_body: bytes,
        log: CallLog,
        deadline: float,
        commit_delay: float,
    ) -> tuple[Target, ChatCompletion | OpenStream]:
        last: RouterError | None = None
        retries = max(0, self._settings.retries)
        m = self._metrics
        for ti, target in enumerate(targets):
            dep = target.deployment
            if ti > 0:
                m.fallbacks_c.get(request.model).inc()
            try:
                upstream_req = target.plugin.build_request(
                    request, dep, extras=self._extras(target, raw_body)
                )
            except InvalidRequest as exc:
                log.attempts.append(Attempt(dep.id, exc.code, 0.0))
                last = exc
                continue
            for attempt in range(retries + 1):
                if attempt:
                    m.retries_c.get(dep.provider, dep.id).inc()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise last or UpstreamTimeout(detail="request time budget exhausted")
                t0 = time.monotonic()
                try:
                    result = await self._once(
                        target, request, upstream_req, remaining, commit_delay
                    )
                except RouterError as exc:
                    spent = time.monotonic() - t0
                    log.upstream_wait += spent
                    log.attempts.append(Attempt(dep.id, exc.code, round(spent, 4)))
                    m.upstream_errors_c.get(dep.provider, dep.id, exc.code).inc()
                    last = exc
                    if not exc.retryable or attempt == retries:
                        break
                    wait = self._settings.retry_backoff_s * (2**attempt) * (0.5 + random.random())
                    if exc.retry_after is not None:
                        if exc.retry_after > MAX_RETRY_WAIT_S:
                            break  # not worth waiting here: next deployment
                        wait = max(wait, exc.retry_after)
                    if time.monotonic() + wait >= deadline:
                        break
                    await asyncio.sleep(wait)
                    continue
                spent = time.monotonic() - t0
                log.upstream_wait += spent
                log.attempts.append(Attempt(dep.id, "ok", round(spent, 4)))
                m.upstream_duration_c.get(dep.provider, dep.id).observe(spent)
                return target, result
        assert last is not None
        raise last

    async def _once(
        self,
        target: Target,
        request: ChatRequest,
        upstream_req: UpstreamRequest,
        budget: float,
        commit_delay: float,
    ) -> ChatCompletion | OpenStream:
        s = self._settings
        resp = await self._upstream.send(
            target.plugin,
            upstream_req,
            first_byte_timeout=min(s.first_byte_timeout_s, budget),
            idle_timeout=s.idle_timeout_s,
        )
        keep = False
        try:
            if not 200 <= resp.status < 300:
                body = await resp.read()
                raise target.plugin.map_error(resp.status, resp.headers, body)
            if not request.stream:
                async with asyncio.timeout(budget):
                    body = await resp.read()
                return target.plugin.parse_response(request, target.deployment, body)
            opened = await self._pre_read(target, request, resp, upstream_req.framing, commit_delay)
            keep = True
            return opened
        except TimeoutError as exc:
            raise UpstreamTimeout(detail="total timeout") from exc
        finally:
            if not keep:
                resp.release()

    async def _pre_read(
        self,
        target: Target,
        request: ChatRequest,
        resp: UpstreamResponse,
        framing: str,
        commit_delay: float,
    ) -> OpenStream:
        """Translate until the first chunks (errors here can still fail over), or
        until ``commit_delay`` passes with the upstream silent."""
        decoder = make_decoder(framing, self._settings.max_event_bytes)
        translator = target.plugin.stream_translator(request, target.deployment)
        chunks: list[ChatCompletionChunk] = []
        it = resp.iter_chunks().__aiter__()
        ended = False
        deadline = time.monotonic() + commit_delay
        while not chunks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    raw = await it.__anext__()
            except TimeoutError:
                break
            except StopAsyncIteration:
                for ev in decoder.close():
                    chunks.extend(translator.feed(ev))
                chunks.extend(translator.close())
                ended = True
                break
            for ev in decoder.feed(raw):
                chunks.extend(translator.feed(ev))
        return OpenStream(target, resp, decoder, translator, chunks, ended, it)

    async def complete(
        self, targets: Sequence[Target], request: ChatRequest, raw_body: bytes, log: CallLog
    ) -> tuple[Target, ChatCompletion]:
        """A non-streaming completion from the first target that answers."""
        deadline = time.monotonic() + self._settings.total_timeout_s
        target, result = await self._attempts(targets, request, raw_body, log, deadline, 0.0)
        assert isinstance(result, ChatCompletion)
        return target, result

    async def open_stream(
        self,
        targets: Sequence[Target],
        request: ChatRequest,
        raw_body: bytes,
        log: CallLog,
        commit_delay: float,
    ) -> OpenStream:
        """An accepted upstream stream from the first target that answers."""
        deadline = time.monotonic() + self._settings.total_timeout_s
        _, result = await self._attempts(targets, request, raw_body, log, deadline, commit_delay)
        if not isinstance(result, OpenStream):
            raise ModelError(detail="dispatcher returned a completion for a stream")
        return result
