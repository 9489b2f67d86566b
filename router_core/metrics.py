"""Every Prometheus metric, defined once, on a registry the app owns.

Names carry the ``viberouter_`` prefix and their unit; counters are exposed with
``_total``. Label sets are bounded: model (routed models only), provider,
deployment, status, code, type, stream, backend, kind. Keys and accounts are
labels only on the ``viberouter_tenant_*`` family, which exists only when the
operator turns it on, and then for at most ``tenant_cap`` tenants. Label children
are cached so the hot path does one dict lookup per observation; every cache is
capped too, so a bug upstream of a label cannot grow memory or series without bound.

With several worker processes, ``PROMETHEUS_MULTIPROC_DIR`` switches
prometheus-client to its multiprocess mode (serve.py sets it); ``exposition()``
then merges every worker's values.

In one process, the observations every request makes (its count, durations, tokens,
cost, the in-flight gauges) are deferred: a child keeps what it was given as a plain
number or a list of values, and the batch is folded into prometheus-client's values
when anything reads the registry (a scrape, ``get_sample_value``) or when 1,024
observations are waiting. A prometheus-client update takes a lock and, for a
histogram, walks its buckets in Python; a request makes about a dozen, so the fold
turns them into an addition each. Nothing is lost or late for a reader: every read
of the registry folds first. With several workers the values live in shared files
that other processes read without asking this one, so there every observation goes
straight to prometheus-client, as before.
"""

from __future__ import annotations

import os
import platform
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Literal, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from router_core import __version__

# LLM latencies span 50 ms to minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

#: Most label children one metric keeps; later label sets share the OTHER child.
CHILDREN_CAP = 5000
#: The label value that stands for "over the cap".
OTHER = "_other"
#: Label values the router knows in advance, exposed at 0 so panels and alerts see them.
RATE_LIMIT_CODES = ("rate_limit_exceeded", "quota_exceeded", "concurrent_requests")
BACKEND_ERROR_KINDS = (
    ("limiter", "acquire"),
    ("limiter", "settle"),
    ("limiter", "refresh"),
    ("store", "ledger_flush"),
    ("store", "lookup"),
)

CIRCUIT_CLOSED, CIRCUIT_HALF_OPEN, CIRCUIT_OPEN = 0, 1, 2

TenantMode = Literal["off", "account", "key"]
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

M = TypeVar("M", bound=MetricWrapperBase)
#: Observations waiting in deferred children before they are folded at once.
FOLD_AT = 1024


class Deferred:
    """The batch of deferred children (see the module docstring): which of them hold
    observations not yet folded, and how many are waiting. A registry collector that
    yields no metric of its own, registered before every metric, folds the batch
    whenever the registry is read."""

    __slots__ = ("_dirty", "waiting")

    def __init__(self) -> None:
        self._dirty: list[_DeferredChild] = []
        self.waiting = 0

    def mark(self, child: _DeferredChild) -> None:
        """``child`` holds observations now (it was clean until this one)."""
        self._dirty.append(child)

    def fold(self) -> None:
        """Every waiting observation into prometheus-client's values, now."""
        dirty, self._dirty = self._dirty, []
        self.waiting = 0
        for child in dirty:
            child.fold()

    def collect(self) -> Iterator[Metric]:
        """The registry's hook: a read of the registry folds first."""
        self.fold()
        return iter(())


class _DeferredChild:
    __slots__ = ("_batch", "_child", "_dirty")

    def __init__(self, child: Any, batch: Deferred) -> None:
        self._child = child
        self._batch = batch
        self._dirty = False

    def fold(self) -> None:
        raise NotImplementedError


class _DeferredSum(_DeferredChild):
    """A child whose updates add up to one net change, applied when folded."""

    __slots__ = ("_pending",)

    def __init__(self, child: Any, batch: Deferred) -> None:
        super().__init__(child, batch)
        self._pending = 0.0

    def add(self, amount: float = 1.0) -> None:
        """Add ``amount`` to the change waiting for the fold."""
        self._pending += amount
        batch = self._batch
        if not self._dirty:
            self._dirty = True
            batch.mark(self)
        batch.waiting += 1  # counted here, not in a method: one call less per observation
        if batch.waiting >= FOLD_AT:
            batch.fold()

    def fold(self) -> None:
        pending, self._pending, self._dirty = self._pending, 0.0, False
        if pending:
            self._child.inc(pending)


class DeferredCounter(_DeferredSum):
    """A counter child whose increments add up until the batch is folded."""

    __slots__ = ()

    def inc(self, amount: float = 1.0) -> None:
        """Count ``amount`` (not negative, as on a counter)."""
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.add(amount)


class DeferredGauge(_DeferredSum):
    """A gauge moved up and down; the net change is applied when folded."""

    __slots__ = ()

    inc = _DeferredSum.add  # up by ``amount``

    def dec(self, amount: float = 1.0) -> None:
        """Move down by ``amount``."""
        self.add(-amount)


class DeferredHistogram(_DeferredChild):
    """A histogram child that keeps its values until the batch is folded; the fold
    counts them into buckets with one addition per bucket touched."""

    __slots__ = ("_bounds", "_values")

    def __init__(self, child: Any, batch: Deferred) -> None:
        super().__init__(child, batch)
        self._values: list[float] = []
        # prometheus-client keeps a child's buckets and sum as value objects; when a
        # version does not, the fold observes each value through the public API.
        has_parts = all(hasattr(child, a) for a in ("_upper_bounds", "_buckets", "_sum"))
        self._bounds: list[float] | None = list(child._upper_bounds) if has_parts else None

    def observe(self, amount: float) -> None:
        """Record one value."""
        self._values.append(amount)
        batch = self._batch
        if not self._dirty:
            self._dirty = True
            batch.mark(self)
        batch.waiting += 1
        if batch.waiting >= FOLD_AT:
            batch.fold()

    def fold(self) -> None:
        values, self._values, self._dirty = self._values, [], False
        child, bounds = self._child, self._bounds
        if bounds is None:
            for v in values:
                child.observe(v)
            return
        counts: dict[int, int] = {}
        for v in values:
            i = bisect_left(bounds, v)  # the first bound >= v, as observe() picks
            counts[i] = counts.get(i, 0) + 1
        child._sum.inc(sum(values))
        for i, n in counts.items():
            child._buckets[i].inc(n)


class _Cached(Generic[M]):
    """Caches ``metric.labels(*values)`` children by label tuple, at most ``cap`` of them
    (deferred children when ``deferred`` is given and the metric's kind allows)."""

    __slots__ = ("_cap", "_children", "_deferred", "_metric")

    def __init__(
        self, metric: M, cap: int = CHILDREN_CAP, deferred: Deferred | None = None
    ) -> None:
        self._metric = metric
        self._cap = cap
        self._children: dict[tuple[str, ...], M] = {}
        self._deferred = deferred

    def get(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            if len(self._children) >= self._cap:
                values = (OTHER,) * len(values)
                child = self._children.get(values)
                if child is not None:
                    return child
            child = _defer(self._metric.labels(*values), self._deferred)
            self._children[values] = child
        return child


def _defer(child: M, batch: Deferred | None) -> M:
    """``child`` behind a deferred wrapper of its kind (same methods), or as it is."""
    if batch is None:
        return child
    if isinstance(child, Histogram):
        return DeferredHistogram(child, batch)  # type: ignore[return-value]
    if isinstance(child, Counter):
        return DeferredCounter(child, batch)  # type: ignore[return-value]
    if isinstance(child, Gauge):
        return DeferredGauge(child, batch)  # type: ignore[return-value]
    return child


class _RequestChildren(_Cached[Counter]):
    """``viberouter_requests_total`` children: the model label names a model only once
    the request was routed (it has a provider). Before that the name is whatever the
    client sent (an unknown model, a typo, even a pasted key), so it is left empty.
    ``endpoint`` is a name from the code (a dialect's, or ``embeddings``), never from
    the client, so it stays a handful of values."""

    __slots__ = ()

    def get(self, *values: str) -> Counter:
        model, provider, status, code, endpoint = values
        return super().get(model if provider else "", provider, status, code, endpoint)


class TenantMetrics:
    """Optional per-account or per-key series (``metrics.tenant_labels``), capped.

    The first ``cap`` distinct tenants seen get their own series; later ones are
    counted under ``account="_other", key="_other"``. In ``account`` mode the key
    label is empty. Ids are the store's ids, never key secrets.
    """

    def __init__(self, mode: TenantMode, cap: int, registry: CollectorRegistry) -> None:
        self.mode = mode
        self.cap = max(0, cap)
        self._seen: set[tuple[str, str]] = set()
        self.requests: _Cached[Counter] | None = None
        self.tokens: _Cached[Counter] | None = None
        self.cost: _Cached[Counter] | None = None
        if mode == "off":
            return
        self.requests = _Cached(
            Counter(
                "viberouter_tenant_requests",
                "Served chat requests per tenant (opt-in, capped)",
                ["account", "key"],
                registry=registry,
            )
        )
        self.tokens = _Cached(
            Counter(
                "viberouter_tenant_tokens",
                "Tokens per tenant and type (opt-in, capped)",
                ["account", "key", "type"],
                registry=registry,
            )
        )
        self.cost = _Cached(
            Counter(
                "viberouter_tenant_cost_usd",
                "Cost per tenant in US dollars (opt-in, capped)",
                ["account", "key"],
                registry=registry,
            )
        )

    def labels(self, account_id: str, key_id: str) -> tuple[str, str]:
        """The (account, key) label values for a tenant, folded into OTHER past the cap."""
        tenant = (account_id, key_id if self.mode == "key" else "")
        if tenant in self._seen:
            return tenant
        if len(self._seen) < self.cap:
            self._seen.add(tenant)
            return tenant
        return (OTHER, OTHER)

    def observe(
        self,
        account_id: str,
        key_id: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
    ) -> None:
        """Count one served request and its usage for its tenant (no-op when off)."""
        if self.requests is None or self.tokens is None or self.cost is None:
            return
        account, key = self.labels(account_id, key_id)
        self.requests.get(account, key).inc()
        self.tokens.get(account, key, "prompt").inc(prompt_tokens)
        self.tokens.get(account, key, "completion").inc(completion_tokens)
        if cost:
            self.cost.get(account, key).inc(cost)


def multiprocess_dir() -> str | None:
    """The multiprocess directory when prometheus-client runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or None


class Metrics:
    """The router's metrics on one registry (one per app, so tests can build many)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        tenant_labels: TenantMode = "off",
        tenant_cap: int = 100,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # registered first, so every read of the registry folds before it collects
        self.deferred: Deferred | None = None if multiprocess_dir() else Deferred()
        if self.deferred is not None:
            r.register(self.deferred)
        self._define_request_metrics(r)
        self._define_upstream_metrics(r)
        self.build.labels(__version__, platform.python_version()).set(1)
        self.tenants = TenantMetrics(tenant_labels, tenant_cap, r)
        self._cache_children()
        self._multiproc_registry: CollectorRegistry | None = None

    def _define_request_metrics(self, r: CollectorRegistry) -> None:
        """What clients asked for and got: requests, latency, tokens, cost, refusals."""
        self.requests = Counter(
            "viberouter_requests",
            "Chat requests finished, by routed model, provider, HTTP status and error code",
            ["model", "provider", "status", "code", "endpoint"],
            registry=r,
        )
        self.request_duration = Histogram(
            "viberouter_request_duration_seconds",
            "Time from request to last byte",
            ["model", "provider", "stream"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "viberouter_time_to_first_token_seconds",
            "Time from request to first streamed chunk",
            ["model", "provider"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "viberouter_overhead_seconds",
            "Time spent in the router itself, upstream wait excluded",
            ["stream"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "viberouter_tokens",
            "Tokens processed, by type (prompt, completion)",
            ["model", "type"],
            registry=r,
        )
        self.cost = Counter(
            "viberouter_cost_usd",
            "Cost of served requests in US dollars",
            ["model"],
            registry=r,
        )
        self.in_flight = Gauge(
            "viberouter_in_flight_requests",
            "Chat requests being served",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.open_streams = Gauge(
            "viberouter_open_streams",
            "SSE streams open to clients",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.rate_limited = Counter(
            "viberouter_rate_limited",
            "Requests refused by limits, by error code",
            ["code"],
            registry=r,
        )

    def _define_upstream_metrics(self, r: CollectorRegistry) -> None:
        """What the upstreams and backends did: calls, errors, retries, circuits."""
        self.upstream_duration = Histogram(
            "viberouter_upstream_duration_seconds",
            "Successful upstream call time until the answer was accepted",
            ["provider", "deployment"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "viberouter_upstream_errors",
            "Failed upstream attempts, by error code",
            ["provider", "deployment", "code"],
            registry=r,
        )
        self.retries = Counter(
            "viberouter_retries",
            "Extra attempts on the same deployment",
            ["provider", "deployment"],
            registry=r,
        )
        self.fallbacks = Counter(
            "viberouter_fallbacks",
            "Moves to the next deployment of a route",
            ["model"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "viberouter_circuit_state",
            "Deployment circuit: 0 closed (available), 1 half-open (degraded), "
            "2 open (unavailable)",
            ["provider", "deployment"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self.backend_errors = Counter(
            "viberouter_backend_errors",
            "Limiter and store backend failures",
            ["backend", "kind"],
            registry=r,
        )
        self.client_disconnects = Counter(
            "viberouter_client_disconnects",
            "Clients that went away before the response ended",
            registry=r,
        )
        # A gauge, not an Info: Info does not work in multiprocess mode.
        self.build = Gauge(
            "viberouter_build_info",
            "Build information; always 1",
            ["version", "python"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def _cache_children(self) -> None:
        """Label children looked up once (hot path), and every fixed series at zero."""
        # the per-request ones deferred; the rest are rare and stay immediate
        d = self.deferred
        self.requests_c = _RequestChildren(self.requests, deferred=d)
        self.request_duration_c = _Cached(self.request_duration, deferred=d)
        self.ttft_c = _Cached(self.ttft, deferred=d)
        self.overhead_c = _Cached(self.overhead, deferred=d)
        self.upstream_duration_c = _Cached(self.upstream_duration, deferred=d)
        self.upstream_errors_c = _Cached(self.upstream_errors)
        self.tokens_c = _Cached(self.tokens, deferred=d)
        self.cost_c = _Cached(self.cost, deferred=d)
        self.in_flight_c = _defer(self.in_flight, d)
        self.open_streams_c = _defer(self.open_streams, d)
        self.rate_limited_c = _Cached(self.rate_limited)
        self.retries_c = _Cached(self.retries)
        self.fallbacks_c = _Cached(self.fallbacks)
        self.backend_errors_c = _Cached(self.backend_errors)
        self.circuit_state_c = _Cached(self.circuit_state)
        for code in RATE_LIMIT_CODES:
            self.rate_limited_c.get(code)
        for backend, kind in BACKEND_ERROR_KINDS:
            self.backend_errors_c.get(backend, kind)

    def init_deployments(self, deployments: Iterable[tuple[str, str]]) -> None:
        """Expose every (provider, deployment) at start-up: circuit closed, no errors yet."""
        for provider, deployment in deployments:
            self.circuit_state_c.get(provider, deployment).set(CIRCUIT_CLOSED)
            self.retries_c.get(provider, deployment)

    def backend_error_hook(self, backend: str) -> Callable[[str, BaseException], None]:
        """A callback for limiter/store backends to count their failures."""

        def hook(kind: str, exc: BaseException) -> None:
            self.backend_errors_c.get(backend, kind).inc()

        return hook

    def exposition(self) -> bytes:
        """The text exposition for /metrics: this registry, or in multiprocess mode
        every worker's values merged from the shared directory."""
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry)
        if self._multiproc_registry is None:
            reg = CollectorRegistry()
            MultiProcessCollector(reg, path=path)  # type: ignore[no-untyped-call]
            self._multiproc_registry = reg
        return generate_latest(self._multiproc_registry)
