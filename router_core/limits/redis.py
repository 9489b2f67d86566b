"""Redis limiter: every router process and machine shares one set of counters.

One Lua script per admission and one per settlement (``scripts.py``), each a single
EVALSHA round trip in steady state; the script is loaded on first use and again after
NOSCRIPT (a restarted Redis has an empty script cache). Semantics are those of
``limits/base.py``, identical to ``memory.py``; TPM is counted in whole-second buckets
that count for 60 to 61 s.

Keys share one hash tag per account, so every key a script touches lives in one Redis
Cluster slot::

    vr:{acct_<account>}:key:<key>:rpm | :rpd | :tpm | :conc
    vr:{acct_<account>}:quota:month | :day

Every key carries an expiry: the logs their window, TPM 62 s, leases their TTL, quota
keys the end of their period. Concurrency slots are leases (a sorted set of lease ids
scored by expiry, purged by the script). One task per process re-arms the leases of the
requests still running every third of ``lease_ttl`` (one REFRESH script per key, see
``scripts.py``), so a router that dies mid-request frees its slots within ``lease_ttl``
seconds (default 20, ``limits.lease_ttl_s``) while a stream of any length keeps its own.
A live request is one whose Admission object is still referenced (a weak set), so even a
caller that forgot to settle cannot pin a slot beyond its own life.

Calls go through ``redis_link.RedisLink``: a full pool means waiting (bounded), and
every call (admission, settlement, lease refresh) gets ``state.redis_timeout_s``
(default 50 ms) of Redis time, so a frozen Redis costs that, not seconds. When Redis
is unreachable, frozen, loading its data (``BusyLoadingError``) or fails,
``on_error("acquire" | "settle" | "refresh", exc)`` is called and then ``fail_open``
admits with an Admission whose limit fields are None (its settle is a no-op), while
``fail_closed`` refuses with ``RateLimitExceeded`` ("The rate limiter is unavailable",
``retry_after`` 1 s): the error list has no "unavailable" code and a 429 with
Retry-After is what well-behaved clients already back off from. A failed
settle never raises; the lease then expires on its own. Connections come back by
themselves once Redis does. A dropped connection is retried once at once; a call that
timed out or dropped after Redis ran the script was counted (the safe direction) and its
lease, never re-armed, expires within ``lease_ttl``.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import time
import weakref
from collections.abc import Callable
from typing import Literal

from redis.exceptions import RedisError

from router_core.errors import ConcurrentRequests, QuotaExceeded, RateLimitExceeded
from router_core.limits.base import Admission, Clock, Limits
from router_core.limits.periods import DEFAULT_LEASE_TTL, LEASE_REFRESH_FRACTION
from router_core.limits.scripts import ACQUIRE, REFRESH, SETTLE
from router_core.redis_link import RedisLink, RedisOptions, Script

BackendErrorPolicy = Literal["fail_closed", "fail_open"]
ErrorHook = Callable[[str, BaseException], None]

_UNLIMITED = -1
_KEY_CACHE_SIZE = 10_000
QUOTA_MESSAGES = {
    "day": "The account's daily quota is used up",
    "month": "The account's monthly quota is used up",
}
UNAVAILABLE_MESSAGE = "The rate limiter is unavailable; try again shortly"


class _KeyNames:
    """The Redis key names of one API key, built once."""

    __slots__ = ("account_id", "conc", "quota_day", "quota_month", "rpd", "rpm", "tpm")

    def __init__(self, key_id: str, account_id: str) -> None:
        account = f"vr:{{acct_{account_id}}}"
        key = f"{account}:key:{key_id}"
        self.account_id = account_id
        self.rpm = f"{key}:rpm"
        self.rpd = f"{key}:rpd"
        self.tpm = f"{key}:tpm"
        self.conc = f"{key}:conc"
        self.quota_month = f"{account}:quota:month"
        self.quota_day = f"{account}:quota:day"


def _admitted(
    reply: list[bytes],
    key_id: str,
    account_id: str,
    lease_id: str,
    estimate: int,
    spec: Limits,
) -> Admission:
    return Admission(
        key_id,
        account_id,
        lease_id,
        estimate,
        spec.concurrency is not None,
        float(reply[1]),
        requests_limit=_opt_int(reply[2]),
        requests_remaining=_opt_int(reply[3]),
        requests_reset=_opt_float(reply[4]),
        tokens_limit=_opt_int(reply[5]),
        tokens_remaining=_opt_int(reply[6]),
        tokens_reset=_opt_float(reply[7]),
    )


def _acquire_args(
    spec: Limits, now: str, lease_id: str, estimate: int, lease_ttl: float
) -> tuple[str | int | float, ...]:
    return (
        now,
        lease_id,
        _limit(spec.rpm),
        _limit(spec.rpd),
        _limit(spec.tpm),
        _limit(spec.concurrency),
        estimate,
        _limit(spec.quota_tokens),
        _limit(spec.quota_cost_usd),
        spec.quota_period,
        lease_ttl,
    )


def _limit(value: int | float | None) -> int | float:
    return _UNLIMITED if value is None else value


def _opt_int(raw: bytes) -> int | None:
    return int(raw) if raw else None


def _opt_float(raw: bytes) -> float | None:
    return float(raw) if raw else None


class RedisLimiter:
    """The shared ``Limiter``: atomic Lua scripts over one Redis (or Cluster slot)."""

    def __init__(
        self,
        target: str | RedisOptions,
        *,
        on_backend_error: BackendErrorPolicy = "fail_closed",
        clock: Clock | None = None,
        on_error: ErrorHook | None = None,
        lease_ttl: float = DEFAULT_LEASE_TTL,
    ) -> None:
        if on_backend_error not in ("fail_closed", "fail_open"):
            raise ValueError(
                f"on_backend_error must be fail_closed or fail_open, not {on_backend_error!r}"
            )
        self._fail_open = on_backend_error == "fail_open"
        self._clock = clock
        self._on_error = on_error
        self._lease_ttl = lease_ttl
        self._link = RedisLink(
            target if isinstance(target, RedisOptions) else RedisOptions(target),
            deadline_only=True,
        )
        self._acquire = Script(self._link, ACQUIRE)
        self._settle = Script(self._link, SETTLE)
        self._refresh = Script(self._link, REFRESH)
        # Requests holding a slot, by lease id; an entry leaves with its Admission.
        self._live: weakref.WeakValueDictionary[str, Admission] = weakref.WeakValueDictionary()
        self._refresher: asyncio.Task[None] | None = None
        # Lease ids must be unique across processes: a random prefix, then a counter.
        self._lease_prefix = os.urandom(6).hex() + ":"
        self._lease_counter = itertools.count(1)
        self._orphans: set[asyncio.Future[None]] = set()
        self._names: dict[str, _KeyNames] = {}

    async def acquire(
        self, key_id: str, account_id: str, spec: Limits, estimated_tokens: int
    ) -> Admission:
        """Admit one request in one round trip or raise; a refusal consumes nothing."""
        if spec.unlimited:
            return Admission(key_id, account_id, "", 0, False, self._now())
        names = self._key_names(key_id, account_id)
        estimate = max(0, estimated_tokens) if spec.tpm is not None else 0
        lease_id = f"{self._lease_prefix}{next(self._lease_counter)}"
        now = "" if self._clock is None else repr(self._clock())
        keys = (
            names.rpm,
            names.rpd,
            names.tpm,
            names.conc,
            names.quota_day if spec.quota_period == "day" else names.quota_month,
        )
        try:
            call = asyncio.ensure_future(
                self._link.deadline(
                    self._acquire(
                        keys, _acquire_args(spec, now, lease_id, estimate, self._lease_ttl)
                    )
                )
            )
            # Shielded: a client that leaves mid-call must not leave a slot held by a
            # script that ran anyway; the orphan is settled when the reply arrives.
            reply: list[bytes] = await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(
                lambda done: self._settle_orphan(done, key_id, account_id, lease_id, estimate, spec)
            )
            raise
        except (RedisError, OSError) as exc:
            return self._degraded(key_id, account_id, exc)
        if reply[0] != b"ok":
            raise _refusal(reply[0], reply[1], spec)
        admission = _admitted(reply, key_id, account_id, lease_id, estimate, spec)
        if admission.holds_slot:
            self._hold(admission)
        return admission

    def _hold(self, admission: Admission) -> None:
        self._live[admission.lease_id] = admission
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_forever())

    async def _refresh_forever(self) -> None:
        interval = self._lease_ttl * LEASE_REFRESH_FRACTION
        while True:
            await asyncio.sleep(interval)
            await self.refresh_leases()

    async def refresh_leases(self) -> int:
        """Re-arm the lease of every request still running (one script per key);
        return how many were re-armed. Failures are reported, never raised."""
        by_key: dict[str, list[str]] = {}
        for lease_id, admission in list(self._live.items()):
            if not admission.settled:
                names = self._key_names(admission.key_id, admission.account_id)
                by_key.setdefault(names.conc, []).append(lease_id)
        now = "" if self._clock is None else repr(self._clock())
        results = await asyncio.gather(
            *(self._refresh_key(conc, now, leases) for conc, leases in by_key.items())
        )
        return sum(results)

    async def _refresh_key(self, conc: str, now: str, leases: list[str]) -> int:
        try:
            armed = await self._link.deadline(
                self._refresh((conc,), (now, self._lease_ttl, *leases))
            )
        except (RedisError, OSError) as exc:
            self._report("refresh", exc)
            return 0
        return int(armed)

    def _settle_orphan(
        self,
        done: asyncio.Future[list[bytes]],
        key_id: str,
        account_id: str,
        lease_id: str,
        estimate: int,
        spec: Limits,
    ) -> None:
        if done.cancelled() or done.exception() is not None or done.result()[0] != b"ok":
            return
        admission = _admitted(done.result(), key_id, account_id, lease_id, estimate, spec)
        task = asyncio.ensure_future(self.settle(admission, spec, 0, 0.0))
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    async def settle(
        self, admission: Admission, spec: Limits, used_tokens: int, cost_usd: float
    ) -> None:
        """Release the slot, true up TPM, charge the quota: one round trip, idempotent."""
        if admission.settled:
            return
        admission.settled = True
        self._live.pop(admission.lease_id, None)
        charges_quota = spec.quota_tokens is not None or spec.quota_cost_usd is not None
        if not admission.lease_id or not (
            admission.holds_slot or spec.tpm is not None or charges_quota
        ):
            return
        names = self._key_names(admission.key_id, admission.account_id)
        used = max(0, used_tokens)
        try:
            await self._link.deadline(
                self._settle(
                    (
                        names.tpm,
                        names.conc,
                        names.quota_day if spec.quota_period == "day" else names.quota_month,
                    ),
                    (
                        "" if self._clock is None else repr(self._clock()),
                        admission.lease_id,
                        1 if admission.holds_slot else 0,
                        math.floor(admission.admitted_at) if spec.tpm is not None else "",
                        used - admission.reserved_tokens,
                        used,
                        repr(max(0.0, float(cost_usd))),
                        spec.quota_period if charges_quota else "",
                    ),
                )
            )
        except (RedisError, OSError) as exc:
            # The request is over; the lease expires by itself and nobody can act on it.
            self._report("settle", exc)

    async def close(self) -> None:
        """Stop re-arming leases and close the connection pool."""
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
            self._refresher = None
        await self._link.aclose()

    def _key_names(self, key_id: str, account_id: str) -> _KeyNames:
        names = self._names.get(key_id)
        if names is None or names.account_id != account_id:
            if len(self._names) >= _KEY_CACHE_SIZE:
                self._names.clear()
            names = self._names[key_id] = _KeyNames(key_id, account_id)
        return names

    def _now(self) -> float:
        return self._clock() if self._clock is not None else time.time()

    def _report(self, kind: str, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error(kind, exc)

    def _degraded(self, key_id: str, account_id: str, exc: BaseException) -> Admission:
        self._report("acquire", exc)
        if not self._fail_open:
            raise RateLimitExceeded(
                UNAVAILABLE_MESSAGE, detail=f"limiter backend error: {exc!r}", retry_after=1.0
            ) from exc
        # No lease and already settled: its settle must not touch Redis.
        return Admission(key_id, account_id, "", 0, False, self._now(), settled=True)


def _refusal(dimension: bytes, raw_wait: bytes, spec: Limits) -> Exception:
    wait = float(raw_wait) if raw_wait else None
    if dimension == b"quota":
        return QuotaExceeded(QUOTA_MESSAGES[spec.quota_period], retry_after=wait)
    if dimension == b"conc":
        return ConcurrentRequests()
    if wait is not None:
        return RateLimitExceeded(retry_after=wait)
    if dimension == b"tpm":
        return RateLimitExceeded(
            "The request needs more tokens than this key's tokens-per-minute limit",
            retryable=False,
        )
    return RateLimitExceeded("This key may not send requests", retryable=False)
