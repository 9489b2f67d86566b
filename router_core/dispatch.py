"""Pick a deployment, call upstream, retry / fall back, cool down, time out.

The core does all I/O here; plugins only build requests and translate answers.
A request may be retried or moved to the next deployment only while nothing has
reached the client: for streams, until the stream is committed (first chunks
translated, or the keep-alive delay passed). After that a failure is one error
event and the end of the stream (streaming.py), never a silent restart.

Per request: the balancer orders the targets (tiers kept, equal ranks balanced),
open circuits are skipped, each deployment gets ``upstream.retries`` extra attempts
on retryable failures (exponential backoff with jitter, upstream Retry-After up to
``routing.max_retry_wait_s``), and ``routing.max_attempts`` plus
``upstream.total_timeout_s`` bound the whole.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import msgspec
import structlog

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest
from router_core.api.decoding import check_nesting, decode_json, struct_parts
from router_core.balancer import Balancer, Lease
from router_core.catalog import Target
from router_core.circuit import Breaker, Breakers, CircuitState
from router_core.errors import (
    InvalidRequest,
    ModelError,
    RateLimitExceeded,
    RouterError,
    UpstreamTimeout,
)
from router_core.framing import EventDecoder, make_decoder
from router_core.metrics import Metrics
from router_core.plugin_api import StreamTranslator, UpstreamRequest
from router_core.settings import RoutingSettings, UpstreamSettings
from router_core.upstream import UpstreamClient, UpstreamResponse

log = structlog.get_logger("viberouter.dispatch")
#: Upstream failures, one event per failed attempt (``log`` is shadowed in _attempts).
upstream_log = structlog.get_logger("viberouter.upstream")

#: Failures that say something about the deployment's health (they feed its circuit);
#: the others (invalid request, context length, content filter) are the request's own.
HEALTH_ERRORS: tuple[type[RouterError], ...] = (ModelError, UpstreamTimeout, RateLimitExceeded)

#: Outcome recorded for a deployment skipped because its circuit is open.
CIRCUIT_OPEN = "circuit_open"


@dataclass(slots=True)
class Attempt:
    """One upstream attempt (or a skipped deployment) of a request."""

    deployment: str
    outcome: str  # "ok", an error code, or CIRCUIT_OPEN
    seconds: float


@dataclass(slots=True)
class CallLog:
    """What dispatch did for one request (for the request log and headers)."""

    attempts: list[Attempt] = field(default_factory=list)
    upstream_wait: float = 0.0  # seconds spent waiting on upstreams

    def summary(self) -> str:
        """``deployment:outcome`` per attempt, comma separated (the log's ``attempts``)."""
        return ",".join(f"{a.deployment}:{a.outcome}" for a in self.attempts)



def _deployment_id(target: Target) -> str:
    return target.deployment.id


class _StreamBody:
    """The rest of a committed upstream stream, read under the deployment's idle,
    first-token and total timeouts. Its end (or failure) settles the deployment's
    in-flight count and circuit; dropping it unfinished settles the count too."""

    __slots__ = (
        "_breaker",
        "_deadline",
        "_dispatcher",
        "_first_deadline",
        "_it",
        "_lease",
        "_pending",
        "_t0",
        "_target",
    )

    def __init__(
        self,
        dispatcher: Dispatcher,
        target: Target,
        it: AsyncIterator[bytes],
        pending: asyncio.Future[bytes] | None,
        lease: Lease,
        breaker: Breaker | None,
        t0: float,
        first_deadline: float | None,
        deadline: float,
    ) -> None:
        self._dispatcher = dispatcher
        self._target = target
        self._it = it
        self._pending = pending  # a read started while pre-reading, not yet answered
        self._lease: Lease | None = lease
        self._breaker = breaker
        self._t0 = t0
        self._first_deadline = first_deadline  # set while no chunk has been translated
        self._deadline = deadline

    def __aiter__(self) -> _StreamBody:
        return self

    async def __anext__(self) -> bytes:
        now = time.monotonic()
        first = self._first_deadline
        pending, self._pending = self._pending, None
        try:
            if first is None:
                # Flowing: each read is already bounded by the idle timeout (the socket's
                # read timeout, or the in-process reader's), so no timer per chunk; the
                # total budget is checked as chunks arrive.
                if now >= self._deadline:
                    raise TimeoutError
                raw = await (pending if pending is not None else self._it.__anext__())
            else:
                limit = min(first, self._deadline) - now
                async with asyncio.timeout(max(0.0, limit)):
                    raw = await (pending if pending is not None else self._it.__anext__())
        except StopAsyncIteration:
            self.close()
            raise
        except TimeoutError as exc:
            if first is not None:
                detail = "no first token in time"
            elif time.monotonic() >= self._deadline:
                detail = "deployment total timeout"
            else:
                detail = "idle timeout between upstream chunks"
            err = UpstreamTimeout(detail=detail)
            self._fail(err)
            raise err from exc
        except RouterError as exc:
            self._fail(exc)
            raise
        if first is not None:
            self._first_deadline = None
            self._dispatcher.balancer.observe_ttft(
                self._target.deployment.id, time.monotonic() - self._t0
            )
        return raw

    def _fail(self, exc: RouterError) -> None:
        dep = self._target.deployment
        self._dispatcher.metrics.upstream_errors_c.get(dep.provider, dep.id, exc.code).inc()
        if self._breaker is not None and isinstance(exc, HEALTH_ERRORS):
            self._breaker.failure()
        self.close()

    def close(self) -> None:
        """Give the deployment's in-flight slot back (idempotent)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    def __del__(self) -> None:
        # A client that went away leaves the body unread: settle when it is dropped.
        if self._lease is not None:
            self._lease.release()


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

    def close(self) -> None:
        """Release the upstream connection and the deployment's in-flight slot."""
        self.response.release()
        if isinstance(self.chunks, _StreamBody):
            self.chunks.close()


class Dispatcher:
    """Runs a request against a route's targets with retries and fallbacks."""

    def __init__(
        self,
        upstream: UpstreamClient,
        settings: UpstreamSettings,
        metrics: Metrics,
        *,
        routing: RoutingSettings | None = None,
        rng: random.Random | None = None,
    ):
        self._upstream = upstream
        self._settings = settings
        self.metrics = metrics
        self.routing = routing or RoutingSettings()
        self._rng = rng or random.Random()
        self.balancer = Balancer(self.routing.latency_ewma_alpha, self._rng)
        self.breakers = Breakers(self.routing.circuit, self._circuit_changed)
        self._extras_decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[msgspec.Struct]] = {}

    def _circuit_changed(self, deployment_id: str, state: CircuitState) -> None:
        provider = deployment_id.partition("/")[0]
        self.metrics.circuit_state_c.get(provider, deployment_id).set(int(state))
        log.warning("circuit_state", deployment=deployment_id, state=state.name.lower())

    def _extras(self, target: Target, raw_body: bytes) -> msgspec.Struct | None:
        typ = target.plugin.extra_params
        if typ is None:
            return None
        dec = self._extras_decoders.get(typ)
        if dec is None:
            dec = msgspec.json.Decoder(typ)
            self._extras_decoders[typ] = dec
        extras = decode_json(dec, raw_body)
        check_nesting(struct_parts(extras))
        return extras

    def _backoff(self, attempt: int) -> float:
        base = self._settings.retry_backoff_s * 2.0**attempt
        return min(self.routing.retry_backoff_max_s, base) * (0.5 + self._rng.random())

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
        budget = self.routing.max_attempts
        m = self.metrics
        skipped: list[Breaker] = []
        sent_any = False
        selection = self.breakers.select(self.balancer.order(targets), _deployment_id)
        for open_target, open_breaker in selection.skipped:
            log.attempts.append(Attempt(open_target.deployment.id, CIRCUIT_OPEN, 0.0))
            skipped.append(open_breaker)
        for pick in selection.picks:
            if budget <= 0 or deadline - time.monotonic() <= 0:
                break
            target, breaker = pick.target, pick.breaker
            dep = target.deployment
            if pick.ask and breaker is not None and not breaker.acquire():
                log.attempts.append(Attempt(dep.id, CIRCUIT_OPEN, 0.0))
                skipped.append(breaker)
                continue
            try:
                upstream_req = target.plugin.build_request(
                    request, dep, extras=self._extras(target, raw_body)
                )
            except InvalidRequest as exc:
                if breaker is not None:
                    breaker.abandon()
                log.attempts.append(Attempt(dep.id, exc.code, 0.0))
                last = exc
                continue
            except BaseException:
                if breaker is not None:
                    breaker.abandon()  # a plugin bug is no verdict on the deployment
                raise
            if sent_any:
                m.fallbacks_c.get(request.model).inc()
            sent_any = True
            for attempt in range(retries + 1):
                remaining = deadline - time.monotonic()
                if budget <= 0 or remaining <= 0:
                    break
                budget -= 1
                if attempt:
                    m.retries_c.get(dep.provider, dep.id).inc()
                t0 = time.monotonic()
                try:
                    result = await self._once(
                        target, breaker, request, upstream_req, remaining, commit_delay
                    )
                except RouterError as exc:
                    spent = time.monotonic() - t0
                    log.upstream_wait += spent
                    log.attempts.append(Attempt(dep.id, exc.code, round(spent, 4)))
                    m.upstream_errors_c.get(dep.provider, dep.id, exc.code).inc()
                    upstream_log.warning(
                        "upstream_failed",
                        provider=dep.provider,
                        deployment=dep.id,
                        attempt=attempt,
                        code=exc.code,
                        status=exc.http_status,
                        detail=exc.detail,
                        seconds=round(spent, 4),
                    )
                    last = exc
                    if breaker is not None:
                        if isinstance(exc, HEALTH_ERRORS):
                            breaker.failure()
                        else:
                            breaker.success()  # it answered; the request was at fault
                        if breaker.state is not CircuitState.CLOSED:
                            break  # a failed probe, or the circuit just opened
                    if not exc.retryable or attempt == retries or budget <= 0:
                        break
                    wait = self._backoff(attempt)
                    if exc.retry_after is not None:
                        if exc.retry_after > self.routing.max_retry_wait_s:
                            break  # not worth waiting here: next deployment
                        wait = max(wait, exc.retry_after)
                    if time.monotonic() + wait >= deadline:
                        break
                    await asyncio.sleep(wait)
                    continue
                except BaseException:
                    # cancelled (client gone) or a plugin bug: no verdict on the deployment
                    if breaker is not None:
                        breaker.abandon()
                    raise
                spent = time.monotonic() - t0
                log.upstream_wait += spent
                log.attempts.append(Attempt(dep.id, "ok", round(spent, 4)))
                m.upstream_duration_c.get(dep.provider, dep.id).observe(spent)
                if breaker is not None:
                    breaker.success()
                return target, result
        if last is not None:
            raise last
        if skipped:
            wait = max(1, math.ceil(min(b.reopens_in() for b in skipped)))
            raise ModelError(
                "No deployment of this model is available right now; try again shortly",
                detail="every deployment's circuit is open",
                status=503,
                retry_after=float(wait),
                headers={"Retry-After": str(wait)},
            )
        raise UpstreamTimeout(detail="request time budget exhausted before any attempt")

    async def _once(
        self,
        target: Target,
        breaker: Breaker | None,
        request: ChatRequest,
        upstream_req: UpstreamRequest,
        remaining: float,
        commit_delay: float,
    ) -> ChatCompletion | OpenStream:
        tm = target.timeouts
        t0 = time.monotonic()
        budget = min(remaining, tm.total_s)
        deadline = t0 + budget
        lease = self.balancer.lease(target.deployment.id)
        resp: UpstreamResponse | None = None
        handed = False  # resp belongs to the returned OpenStream
        leased = False  # lease belongs to the stream body
        try:
            if not request.stream:
                # One timer for the whole exchange: first byte, then the rest of the budget.
                resp = await self._upstream.send(
                    target.plugin,
                    upstream_req,
                    first_byte_timeout=min(tm.first_token_s, budget),
                    idle_timeout=tm.idle_s,
                    connect_timeout=tm.connect_s,
                )
                # The body follows the headers at once for JSON answers; each read is
                # bounded by the idle timeout (one timer per request, not three).
                body = await resp.read()
                if not 200 <= resp.status < 300:
                    raise target.plugin.map_error(resp.status, resp.headers, body)
                completion = target.plugin.parse_response(request, target.deployment, body)
                self.balancer.observe_ttft(target.deployment.id, time.monotonic() - t0)
                return completion
            resp = await self._upstream.send(
                target.plugin,
                upstream_req,
                first_byte_timeout=min(tm.first_token_s, budget),
                idle_timeout=tm.idle_s,
                connect_timeout=tm.connect_s,
            )
            if not 200 <= resp.status < 300:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    body = await resp.read()
                raise target.plugin.map_error(resp.status, resp.headers, body)
            first_deadline = min(t0 + tm.first_token_s, deadline)
            opened, pending = await self._pre_read(
                target, request, resp, upstream_req.framing, commit_delay, first_deadline
            )
            handed = True
            if opened.first_chunks:
                self.balancer.observe_ttft(target.deployment.id, time.monotonic() - t0)
            if not opened.ended:
                opened.chunks = _StreamBody(
                    self,
                    target,
                    opened.chunks,
                    pending,
                    lease,
                    breaker,
                    t0,
                    None if opened.first_chunks else first_deadline,
                    deadline,
                )
                leased = True
            return opened
        except TimeoutError as exc:
            raise UpstreamTimeout(detail="deployment total timeout") from exc
        finally:
            if not leased:
                lease.release()
            if resp is not None and not handed:
                resp.release()

    async def _pre_read(
        self,
        target: Target,
        request: ChatRequest,
        resp: UpstreamResponse,
        framing: str,
        commit_delay: float,
        first_deadline: float,
    ) -> tuple[OpenStream, asyncio.Future[bytes] | None]:
        """Translate until the first chunks (errors here can still fail over), or
        until ``commit_delay`` passes with the upstream silent; then the read in
        progress (if any) is handed over, not cancelled, since cancelling a read
        would end the body's iterator. No chunk by the first-token deadline is a
        timeout (also still failing over)."""
        decoder = make_decoder(framing, self._settings.max_event_bytes)
        translator = target.plugin.stream_translator(request, target.deployment)
        chunks: list[ChatCompletionChunk] = []
        it = resp.iter_chunks().__aiter__()
        ended = False
        commit_at = time.monotonic() + commit_delay
        pending: asyncio.Future[bytes] | None = None
        try:
            while not chunks:
                now = time.monotonic()
                if now >= first_deadline:
                    raise UpstreamTimeout(detail="no first token in time")
                if now >= commit_at:
                    break
                if pending is None:
                    pending = asyncio.ensure_future(it.__anext__())
                done, _ = await asyncio.wait(
                    (pending,), timeout=min(commit_at, first_deadline) - now
                )
                if not done:
                    continue  # the loop head tells a commit from a first-token timeout
                read, pending = pending, None
                try:
                    raw = read.result()
                except StopAsyncIteration:
                    for ev in decoder.close():
                        chunks.extend(translator.feed(ev))
                    chunks.extend(translator.close())
                    ended = True
                    break
                for ev in decoder.feed(raw):
                    chunks.extend(translator.feed(ev))
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        return OpenStream(target, resp, decoder, translator, chunks, ended, it), pending

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
