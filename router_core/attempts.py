"""The attempt loop: a request's targets in order, each with its retries.

Per request: the balancer orders the targets (tiers kept, equal ranks balanced),
the circuits choose which to try (``Breakers.select``: open ones left out, unless
more than the panic threshold is open), each deployment gets ``upstream.retries`` extra attempts
on retryable failures (exponential backoff with jitter, upstream Retry-After up to
``routing.max_retry_wait_s``), and ``routing.max_attempts`` plus the request's time
budget bound the whole. What one attempt does (a JSON exchange, opening a stream,
later a native pass-through or an embeddings call) is the ``exchange`` function the
caller passes; the loop only decides who is tried next.

:meth:`Health.failed` is the one place a failed attempt is recorded (metrics,
circuit, log line, the request's attempt list) and the one place upstream text is
scrubbed of the attempt's credentials, before it can reach a client.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

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
from router_core.metrics import Metrics
from router_core.plugin_api import UpstreamRequest
from router_core.settings import RoutingSettings, UpstreamSettings
from router_core.timeouts import AttemptClock
from router_core.upstream_secrets import scrub_error

log = structlog.get_logger("viberouter.upstream")

#: Failures that say something about the deployment's health (they feed its circuit);
#: the others (invalid request, context length, content filter) are the request's own.
HEALTH_ERRORS: tuple[type[RouterError], ...] = (ModelError, UpstreamTimeout, RateLimitExceeded)

#: Outcome recorded for a deployment skipped because its circuit is open.
CIRCUIT_OPEN = "circuit_open"

R = TypeVar("R")


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


class Health:
    """Deployment health shared by every request: balancer stats, circuits, metrics."""

    def __init__(self, metrics: Metrics, balancer: Balancer, breakers: Breakers) -> None:
        self.metrics = metrics
        self.balancer = balancer
        self.breakers = breakers

    def failed(
        self,
        scope: AttemptScope,
        exc: RouterError,
        *,
        attempt: int = 0,
        calls: CallLog | None = None,
        verdict: bool = True,
    ) -> RouterError:
        """Record a failed attempt (before or after commit) and return its error with
        the attempt's credentials scrubbed from every upstream-derived text.
        ``verdict=False`` keeps the circuit out of it: after the commit only the
        connection's own failures (reset, timeouts) count, not errors the upstream
        wrote into the stream."""
        exc = scrub_error(exc, scope.upstream_request)
        dep = scope.target.deployment
        spent = time.monotonic() - scope.clock.start
        if calls is not None:
            calls.upstream_wait += spent
            calls.attempts.append(Attempt(dep.id, exc.code, round(spent, 4)))
        self.metrics.upstream_errors_c.get(dep.provider, dep.id, exc.code).inc()
        log.warning(
            "upstream_failed",
            provider=dep.provider,
            deployment=dep.id,
            attempt=attempt,
            code=exc.code,
            status=exc.http_status,
            detail=exc.detail,
            seconds=round(spent, 4),
            committed=calls is None,
        )
        breaker = scope.breaker
        if breaker is not None and verdict:
            if isinstance(exc, HEALTH_ERRORS):
                breaker.failure()
            else:
                breaker.success()  # it answered; the request was at fault
        return exc

    def succeeded(self, scope: AttemptScope, calls: CallLog) -> None:
        """Record an attempt that answered (a completion, or a stream accepted)."""
        dep = scope.target.deployment
        spent = time.monotonic() - scope.clock.start
        calls.upstream_wait += spent
        calls.attempts.append(Attempt(dep.id, "ok", round(spent, 4)))
        self.metrics.upstream_duration_c.get(dep.provider, dep.id).observe(spent)
        if scope.breaker is not None:
            scope.breaker.success()

    def first_token(self, scope: AttemptScope) -> None:
        """The attempt's first token arrived (feeds the lowest-latency strategy)."""
        self.balancer.observe_ttft(scope.target.deployment.id, time.monotonic() - scope.clock.start)


class AttemptScope:
    """One attempt's hold on a deployment: its in-flight lease, its circuit, the
    request sent (for scrubbing) and its clock. A stream keeps it until its end."""

    __slots__ = ("breaker", "clock", "health", "lease", "target", "upstream_request")

    def __init__(
        self,
        health: Health,
        target: Target,
        breaker: Breaker | None,
        upstream_request: UpstreamRequest,
        clock: AttemptClock,
    ) -> None:
        self.health = health
        self.target = target
        self.breaker = breaker
        self.upstream_request = upstream_request
        self.clock = clock
        self.lease: Lease | None = health.balancer.lease(target.deployment.id)

    def release(self) -> None:
        """Give the deployment's in-flight slot back (idempotent)."""
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    def __del__(self) -> None:
        # A stream the client abandoned is dropped unread: settle when it is collected.
        if self.lease is not None:
            self.lease.release()


#: What one attempt does, given its scope: returns the result or raises RouterError.
Exchange = Callable[[AttemptScope], Awaitable[R]]
#: Builds the upstream request for one target (raises InvalidRequest to skip it).
Build = Callable[[Target], UpstreamRequest]


def _deployment_id(target: Target) -> str:
    return target.deployment.id


class AttemptLoop(Generic[R]):
    """One request's walk over its targets (see the module docstring)."""

    def __init__(
        self,
        health: Health,
        settings: UpstreamSettings,
        routing: RoutingSettings,
        rng: random.Random,
        *,
        model: str,
        calls: CallLog,
        deadline: float,
    ) -> None:
        self.health = health
        self.settings = settings
        self.routing = routing
        self.rng = rng
        self.model = model
        self.calls = calls
        self.deadline = deadline
        self.budget = routing.max_attempts
        self.last: RouterError | None = None
        self.skipped: list[Breaker] = []
        self.sent_any = False

    async def run(
        self, targets: Sequence[Target], build: Build, exchange: Exchange[R]
    ) -> tuple[Target, R]:
        """The first target's result that answers; else the last failure's error."""
        ordered = self.health.balancer.order(targets)
        selection = self.health.breakers.select(ordered, _deployment_id)
        for open_target, open_breaker in selection.skipped:
            self._skip(open_target, open_breaker)
        for pick in selection.picks:
            if self.exhausted():
                break
            target, breaker = pick.target, pick.breaker
            if pick.ask and breaker is not None and not breaker.acquire():
                self._skip(target, breaker)  # opened while earlier targets were tried
                continue
            upstream_req = self._build(target, breaker, build)
            if upstream_req is None:
                continue
            if self.sent_any:
                self.health.metrics.fallbacks_c.get(self.model).inc()
            self.sent_any = True
            done, result = await self._deployment(target, breaker, upstream_req, exchange)
            if done:
                return target, result  # type: ignore[return-value]
        raise self.final_error()

    def exhausted(self) -> bool:
        """No attempt left in the budget, or no time."""
        return self.budget <= 0 or self.deadline - time.monotonic() <= 0

    def _skip(self, target: Target, breaker: Breaker) -> None:
        self.calls.attempts.append(Attempt(target.deployment.id, CIRCUIT_OPEN, 0.0))
        self.skipped.append(breaker)

    def _build(
        self, target: Target, breaker: Breaker | None, build: Build
    ) -> UpstreamRequest | None:
        try:
            return build(target)
        except InvalidRequest as exc:
            # this deployment cannot serve the request: the next one may
            if breaker is not None:
                breaker.abandon()
            self.calls.attempts.append(Attempt(target.deployment.id, exc.code, 0.0))
            self.last = exc
            return None
        except BaseException:
            if breaker is not None:
                breaker.abandon()  # a plugin bug is no verdict on the deployment
            raise

    async def _deployment(
        self,
        target: Target,
        breaker: Breaker | None,
        upstream_req: UpstreamRequest,
        exchange: Exchange[R],
    ) -> tuple[bool, R | None]:
        retries = max(0, self.settings.retries)
        for attempt in range(retries + 1):
            if self.exhausted():
                break
            self.budget -= 1
            if attempt:
                dep = target.deployment
                self.health.metrics.retries_c.get(dep.provider, dep.id).inc()
            clock = AttemptClock.begin(target.timeouts, self.deadline)
            scope = AttemptScope(self.health, target, breaker, upstream_req, clock)
            try:
                result = await exchange(scope)
            except RouterError as exc:
                scope.release()
                self.last = self.health.failed(scope, exc, attempt=attempt, calls=self.calls)
                wait = self._retry_wait(self.last, breaker, attempt, retries)
                if wait is None:
                    break
                await asyncio.sleep(wait)
                continue
            except BaseException:
                # cancelled (client gone) or a plugin bug: no verdict on the deployment
                scope.release()
                if breaker is not None:
                    breaker.abandon()
                raise
            self.health.succeeded(scope, self.calls)
            return True, result
        return False, None

    def _retry_wait(
        self, exc: RouterError, breaker: Breaker | None, attempt: int, retries: int
    ) -> float | None:
        """Seconds to wait before retrying this deployment, or None to move on."""
        if breaker is not None and breaker.state is not CircuitState.CLOSED:
            return None  # a failed probe, or the circuit just opened
        if not exc.retryable or attempt == retries or self.budget <= 0:
            return None
        base = self.settings.retry_backoff_s * 2.0**attempt
        wait = min(self.routing.retry_backoff_max_s, base) * (0.5 + self.rng.random())
        if exc.retry_after is not None:
            if exc.retry_after > self.routing.max_retry_wait_s:
                return None  # not worth waiting here: next deployment
            wait = max(wait, exc.retry_after)
        if time.monotonic() + wait >= self.deadline:
            return None
        return wait

    def final_error(self) -> RouterError:
        """What the client gets when no target answered."""
        if self.last is not None:
            return self.last
        if self.skipped:
            wait = max(1, math.ceil(min(b.reopens_in() for b in self.skipped)))
            return ModelError(
                "No deployment of this model is available right now; try again shortly",
                detail="every deployment's circuit is open",
                status=503,
                retry_after=float(wait),
                headers={"Retry-After": str(wait)},
            )
        return UpstreamTimeout(detail="request time budget exhausted before any attempt")
