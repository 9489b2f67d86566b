"""Per-deployment circuit breakers: stop sending traffic to a failing deployment.

closed ──(``failures`` within ``window_s``)──► open ──(``cooldown_s`` passed)──► half-open
  ▲                                             ▲                                 │
  └──────────── the probe succeeds ─────────────┴────── the probe fails ──────────┘

In half-open exactly one request (the probe) may try the deployment; the others
skip it. State lives in this process only: each router worker learns on its own.

Panic (as Envoy's outlier detection has it): open circuits are skipped only while at
most ``panic_threshold_percent`` of a request's deployments are open. Past that, a
failing share is no longer something to route around (the outage is the route's,
or a client provoked it), and skipping would take the route dark: every deployment
is tried, the healthy ones first. So a route's last deployment is never ejected.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from router_core.api.models import ModelStatus
from router_core.settings import CircuitSettings


class CircuitState(enum.IntEnum):
    """The values of the ``viberouter_circuit_state`` gauge."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


#: Called on every state change with (deployment id, new state).
StateHook = Callable[[str, CircuitState], None]

T = TypeVar("T")


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

    def blocked(self) -> bool:
        """Would ``acquire`` refuse now (open, or half-open with its probe out)?"""
        state = self.current()
        return state is CircuitState.OPEN or (state is CircuitState.HALF_OPEN and self._probing)

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


@dataclass(slots=True)
class Pick(Generic[T]):
    """One target to try. With ``ask``, call ``breaker.acquire()`` first and skip the
    target when it refuses (its state may change while earlier targets are tried);
    without, try it regardless. Either way report the outcome to ``breaker``."""

    target: T
    breaker: Breaker | None
    ask: bool


@dataclass(slots=True)
class Selection(Generic[T]):
    """What ``Breakers.select`` decided for one request."""

    #: The targets to try, in order.
    picks: list[Pick[T]] = field(default_factory=list)
    #: Targets left out because their circuit is open (with their breakers).
    skipped: list[tuple[T, Breaker]] = field(default_factory=list)
    #: More than the panic threshold was open: circuits were ignored.
    panic: bool = False


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

    def select(self, targets: Sequence[T], deployment_id: Callable[[T], str]) -> Selection[T]:
        """The targets to try, in the order given: those with open circuits are left
        out, unless more than ``panic_threshold_percent`` of the targets are open;
        then all are tried (panic), those not open first."""
        if not self._settings.enabled:
            return Selection([Pick(t, None, False) for t in targets])
        if len(targets) == 1:  # the common route, without the lists below
            only = targets[0]
            breaker = self.get(deployment_id(only))
            if not breaker.blocked():
                return Selection([Pick(only, breaker, True)])
        pairs = [(t, self.get(deployment_id(t))) for t in targets]
        blocked = [b.blocked() for _, b in pairs]
        if not any(blocked):  # the usual case: every circuit closed
            return Selection([Pick(t, b, True) for t, b in pairs])
        share = 100.0 * sum(blocked) / len(pairs) if pairs else 0.0
        if share > self._settings.panic_threshold_percent:
            ok = [Pick(t, b, False) for (t, b), out in zip(pairs, blocked, strict=True) if not out]
            rest = [Pick(t, b, False) for (t, b), out in zip(pairs, blocked, strict=True) if out]
            return Selection(ok + rest, panic=True)
        selection: Selection[T] = Selection()
        for (t, b), out in zip(pairs, blocked, strict=True):
            if out:
                selection.skipped.append((t, b))
            else:
                selection.picks.append(Pick(t, b, True))
        return selection

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
