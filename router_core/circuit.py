"""Per-deployment circuit breakers: stop sending traffic to a failing deployment.

closed ──(``failures`` within ``window_s``)──► open ──(``cooldown_s`` passed)──► half-open
  ▲                                             ▲                                 │
  └──────────── the probe succeeds ─────────────┴────── the probe fails ──────────┘

In half-open exactly one request (the probe) may try the deployment; the others
skip it. State lives in this process only: each router worker learns on its own.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable

from router_core.api.models import ModelStatus
from router_core.settings import CircuitSettings


class CircuitState(enum.IntEnum):
    """The values of the ``viberouter_circuit_state`` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


#: Called on every state change with (deployment id, new state).
StateHook = Callable[[str, CircuitState], None]


class Breaker:
    """The circuit of one deployment."""

    __slots__ = (
        "_clock",
        "_failures",
        "_hook",
        "_id",
        "_opened_at",
        "_probing",
        "_settings",
        "state",
    )

    def __init__(
        self,
        deployment_id: str,
        settings: CircuitSettings,
        hook: StateHook,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id = deployment_id
        self._settings = settings
        self._hook = hook
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._probing = False
        self.state = CircuitState.CLOSED

    def _set(self, state: CircuitState) -> None:
        if state is not self.state:
            self.state = state
            self._hook(self._id, state)

    def current(self) -> CircuitState:
        """The state now (an open circuit whose cool-down passed reads as half-open)."""
        if (
            self.state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self._settings.cooldown_s
        ):
            self._set(CircuitState.HALF_OPEN)
        return self.state

    def reopens_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        if self.current() is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._settings.cooldown_s - self._clock())

    def acquire(self) -> bool:
        """May a request try this deployment now? In half-open, True once (the probe)
        until that probe reports back through ``success``, ``failure`` or ``abandon``."""
        state = self.current()
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        """An attempt succeeded: a probe closes the circuit."""
        if self.state is not CircuitState.CLOSED:
            self._probing = False
            self._failures.clear()
            self._set(CircuitState.CLOSED)

    def failure(self) -> None:
        """An attempt failed in a way that counts against the deployment."""
        now = self._clock()
        if self.state is not CircuitState.CLOSED:
            # a failed probe (or a late failure of a request started before opening)
            self._probing = False
            self._opened_at = now
            self._set(CircuitState.OPEN)
            return
        window = self._settings.window_s
        failures = self._failures
        failures.append(now)
        while failures and now - failures[0] > window:
            failures.popleft()
        if len(failures) >= self._settings.failures:
            failures.clear()
            self._opened_at = now
            self._set(CircuitState.OPEN)

    def abandon(self) -> None:
        """The attempt ended without a verdict (cancelled, or the request's own fault):
        a probe slot is given back so the next request may probe."""
        self._probing = False


class Breakers:
    """Every deployment's breaker, created on first use."""

    def __init__(
        self,
        settings: CircuitSettings,
        hook: StateHook,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._hook = hook
        self._clock = clock
        self._by_id: dict[str, Breaker] = {}

    @property
    def enabled(self) -> bool:
        """False when config turned circuit breaking off."""
        return self._settings.enabled

    def get(self, deployment_id: str) -> Breaker:
        """The breaker of ``deployment_id``."""
        b = self._by_id.get(deployment_id)
        if b is None:
            b = Breaker(deployment_id, self._settings, self._hook, self._clock)
            self._by_id[deployment_id] = b
        return b

    def state(self, deployment_id: str) -> CircuitState:
        """The current state of a deployment (closed if never used)."""
        b = self._by_id.get(deployment_id)
        return CircuitState.CLOSED if b is None else b.current()


def route_status(states: Iterable[CircuitState]) -> ModelStatus:
    """A route's public status from its deployments' circuits: ``available`` when all
    are closed, ``unavailable`` when all are open, ``degraded`` in between (some
    deployment open or probing)."""
    seen = set(states)
    if not seen or seen == {CircuitState.CLOSED}:
        return "available"
    if seen == {CircuitState.OPEN}:
        return "unavailable"
    return "degraded"
