"""Build the configured Limiter: the only place that maps ``state.backend`` to a class."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from router_core.limits.base import Clock, Limiter
from router_core.limits.memory import MemoryLimiter
from router_core.limits.periods import DEFAULT_LEASE_TTL

if TYPE_CHECKING:
    from router_core.limits.redis import BackendErrorPolicy
    from router_core.settings import StateSettings

_EMBEDDED = ("embedded", "memory")


def make_limiter(
    backend: str,
    *,
    redis_url: str,
    on_backend_error: str,
    clock: Clock | None = None,
    on_error: Callable[[str, BaseException], None] | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
    state: StateSettings | None = None,
) -> Limiter:
    """Return the limiter for ``backend`` ("embedded"/"memory" or "redis").

    ``redis_url`` and ``on_backend_error`` ("fail_closed" | "fail_open") matter only for
    Redis, as does ``state`` (its connection settings); ``clock`` replaces the time source
    (tests), ``on_error`` hears backend failures, ``lease_ttl`` bounds a dead holder's slot.
    Raises ``ValueError`` for an unknown backend or policy.
    """
    policy: BackendErrorPolicy
    if on_backend_error == "fail_closed":
        policy = "fail_closed"
    elif on_backend_error == "fail_open":
        policy = "fail_open"
    else:
        raise ValueError(
            f"on_backend_error must be 'fail_closed' or 'fail_open', not {on_backend_error!r}"
        )
    if backend in _EMBEDDED:
        return MemoryLimiter(clock or time.time, lease_ttl=lease_ttl)
    if backend == "redis":
        # Imported here: redis-py costs ~80 ms of start-up the embedded backend never needs.
        from router_core.limits.redis import RedisLimiter
        from router_core.redis_link import redis_options

        return RedisLimiter(
            redis_options(redis_url, state),
            on_backend_error=policy,
            clock=clock,
            on_error=on_error,
            lease_ttl=lease_ttl,
        )
    raise ValueError(f"unknown limiter backend {backend!r}; expected 'embedded' or 'redis'")
