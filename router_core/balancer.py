"""Order a request's deployments: fallback tiers kept, equal ranks balanced.

The targets handed to dispatch are already sorted by tier (route, then rank). Each
run of consecutive targets with the same route and rank is a pool that the route's
strategy orders for this request; the first of the pool is tried first, the rest
are its fallbacks before the next tier.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from router_core.catalog import Target


@dataclass(slots=True)
class DeploymentStats:
    """Live load and latency of one deployment (this process only)."""

    in_flight: int = 0
    #: Moving average of time to first token, in seconds (None until measured).
    ttft_ewma: float | None = None


class Lease:
    """One request's hold on a deployment's in-flight count; ``release`` is idempotent."""

    __slots__ = ("_stats",)

    def __init__(self, stats: DeploymentStats) -> None:
        stats.in_flight += 1
        self._stats: DeploymentStats | None = stats

    def release(self) -> None:
        """Give the in-flight slot back (once)."""
        if self._stats is not None:
            self._stats.in_flight -= 1
            self._stats = None


class Balancer:
    """Per-deployment stats and the per-request ordering of targets."""

    def __init__(self, ewma_alpha: float = 0.3, rng: random.Random | None = None) -> None:
        self._alpha = ewma_alpha
        self._rng = rng or random.Random()
        self._stats: dict[str, DeploymentStats] = {}

    def stats(self, deployment_id: str) -> DeploymentStats:
        """The stats of ``deployment_id`` (created on first use)."""
        s = self._stats.get(deployment_id)
        if s is None:
            s = DeploymentStats()
            self._stats[deployment_id] = s
        return s

    def in_flight(self, deployment_id: str) -> int:
        """Requests in progress on ``deployment_id`` (streams until their body ends)."""
        s = self._stats.get(deployment_id)
        return 0 if s is None else s.in_flight

    def lease(self, deployment_id: str) -> Lease:
        """Count one more request in flight on ``deployment_id``."""
        return Lease(self.stats(deployment_id))

    def observe_ttft(self, deployment_id: str, seconds: float) -> None:
        """Feed one time-to-first-token sample into the moving average."""
        s = self.stats(deployment_id)
        prev = s.ttft_ewma
        s.ttft_ewma = seconds if prev is None else prev + self._alpha * (seconds - prev)

    def order(self, targets: Sequence[Target]) -> list[Target]:
        """The order to try ``targets`` in for one request."""
        n = len(targets)
        if n == 1:
            return [targets[0]]  # the common route: one deployment, nothing to order
        out: list[Target] = []
        i = 0
        while i < n:
            head = targets[i]
            j = i + 1
            while j < n and targets[j].rank == head.rank and targets[j].route == head.route:
                j += 1
            pool = targets[i:j]
            if len(pool) == 1 or head.strategy == "ordered":
                out.extend(pool)
            else:
                out.extend(self._pool(pool, head.strategy))
            i = j
        return out

    def _pool(self, pool: Sequence[Target], strategy: str) -> list[Target]:
        rnd = self._rng.random
        if strategy == "weighted":
            # Weighted random order without replacement (Efraimidis-Spirakis keys):
            # the first pick follows the weights, fallbacks too.
            return sorted(pool, key=lambda t: rnd() ** (1.0 / t.weight), reverse=True)
        if strategy == "least_in_flight":
            # random tie-break so idle deployments share the load
            return sorted(pool, key=lambda t: (self.stats(t.deployment.id).in_flight, rnd()))
        # lowest_latency: unmeasured deployments first, so each gets measured
        return sorted(pool, key=lambda t: (self._latency(t), rnd()))

    def _latency(self, t: Target) -> float:
        ewma = self.stats(t.deployment.id).ttft_ewma
        return -1.0 if ewma is None else ewma
