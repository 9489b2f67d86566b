"""Every Prometheus metric, defined once, on a registry the app owns.

Label sets are bounded: model, provider, deployment, status, code, type. Keys and
accounts are never labels. Label children are cached so the hot path does one
dict lookup per observation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics import MetricWrapperBase

from router_core import __version__

# LLM latencies span 50 ms to minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

M = TypeVar("M", bound=MetricWrapperBase)


class _Cached(Generic[M]):
    """Caches ``metric.labels(*values)`` children by label tuple."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def get(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._metric.labels(*values)
            self._children[values] = child
        return child


class Metrics:
    """The router's metrics on one registry (one per app, so tests can build many)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "viberouter_requests",
            "Chat requests finished, by outcome",
            ["model", "provider", "status", "code"],
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
        self.upstream_duration = Histogram(
            "viberouter_upstream_duration_seconds",
            "Upstream call time until status and headers",
            ["provider", "deployment"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.upstream_errors = Counter(
            "viberouter_upstream_errors",
            "Failed upstream attempts",
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
        )
        self.open_streams = Gauge(
            "viberouter_open_streams",
            "SSE streams open to clients",
            registry=r,
        )
        self.rate_limited = Counter(
            "viberouter_rate_limited",
            "Requests refused by limits, by error code",
            ["code"],
            registry=r,
        )
        self.circuit_state = Gauge(
            "viberouter_circuit_state",
            "Deployment circuit: 0 closed (available), 1 half-open (degraded), "
            "2 open (unavailable)",
            ["provider", "deployment"],
            registry=r,
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
        self.build = Info("viberouter_build", "Build information", registry=r)
        self.build.info({"version": __version__})

        self.requests_c = _Cached(self.requests)
        self.request_duration_c = _Cached(self.request_duration)
        self.ttft_c = _Cached(self.ttft)
        self.overhead_c = _Cached(self.overhead)
        self.upstream_duration_c = _Cached(self.upstream_duration)
        self.upstream_errors_c = _Cached(self.upstream_errors)
        self.tokens_c = _Cached(self.tokens)
        self.cost_c = _Cached(self.cost)
        self.rate_limited_c = _Cached(self.rate_limited)
        self.retries_c = _Cached(self.retries)
        self.fallbacks_c = _Cached(self.fallbacks)
        self.backend_errors_c = _Cached(self.backend_errors)
        self.circuit_state_c = _Cached(self.circuit_state)

    def backend_error_hook(self, backend: str) -> Callable[[str, BaseException], None]:
        """A callback for limiter/store backends to count their failures."""

        def hook(kind: str, exc: BaseException) -> None:
            self.backend_errors_c.get(backend, kind).inc()

        return hook
