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
scored by expiry, purged by the script): a router that dies mid-request frees its slots
after ``lease_ttl`` seconds (default 900, see ``periods.DEFAULT_LEASE_TTL``).

When Redis is unreachable or fails, ``on_error("acquire" | "settle", exc)`` is called and
then ``fail_open`` admits with an Admission whose limit fields are None (its settle is
a no-op), while ``fail_closed`` refuses with ``RateLimitExceeded`` ("The rate limiter is
unavailable", ``retry_after`` 1 s): the error list has no "unavailable" code and a 429
with Retry-After is what well-behaved clients already back off from. A failed settle
never raises; the lease then expires on its own. The connection pool reconnects by
itself once Redis is back. A dropped connection is retried once at once; if it dropped
after Redis ran the script, that request is counted twice (the safe direction).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import time
from collections.abc import Callable
from typing import Literal

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from router_core.errors import ConcurrentRequests, QuotaExceeded, RateLimitExceeded
from router_core.limits.base import Admission, Clock, Limits
from router_core.limits.periods import DEFAULT_LEASE_TTL
from router_core.limits.scripts import ACQUIRE, SETTLE

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
        url: str,
        *,
        on_backend_error: BackendErrorPolicy = "fail_closed",
        clock: Clock | None = None,
        on_error: ErrorHook | None = None,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        timeout: float = 1.0,
    ) -> None:
        if on_backend_error not in ("fail_closed", "fail_open"):
            raise ValueError(
                f"on_backend_error must be fail_closed or fail_open, not {on_backend_error!r}"
            )
        self._fail_open = on_backend_error == "fail_open"
        self._clock = clock
        self._on_error = on_error
        self._lease_ttl = lease_ttl
        # One immediate retry replaces a pooled connection that died with a restarted
        # Redis; more would only stall the request path while Redis is really down.
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._acquire = self._redis.register_script(ACQUIRE)
        self._settle = self._redis.register_script(SETTLE)
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
        try:
            call = asyncio.ensure_future(
                self._acquire(
                    (
                        names.rpm,
                        names.rpd,
                        names.tpm,
                        names.conc,
                        names.quota_day if spec.quota_period == "day" else names.quota_month,
                    ),
                    (
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
                        self._lease_ttl,
                    ),
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
        return _admitted(reply, key_id, account_id, lease_id, estimate, spec)

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
        charges_quota = spec.quota_tokens is not None or spec.quota_cost_usd is not None
        if not admission.lease_id or not (
            admission.holds_slot or spec.tpm is not None or charges_quota
        ):
            return
        names = self._key_names(admission.key_id, admission.account_id)
        used = max(0, used_tokens)
        try:
            await self._settle(
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
        except (RedisError, OSError) as exc:
            # The request is over; the lease expires by itself and nobody can act on it.
            self._report("settle", exc)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

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
