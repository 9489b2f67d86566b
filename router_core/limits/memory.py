"""In-process limiter for one router process (``state.backend = "embedded"``).

Every rule of ``limits/base.py`` holds here exactly as in the Redis backend:

* RPM / RPD: a deque of admission times per key, pruned from the left on access;
  an entry leaves the window exactly 60 s (86,400 s) after it was admitted.
* TPM: whole-second buckets that count for 60 to 61 s (see ``periods.TPM_SPAN_BUCKETS``),
  so no 60 s window ever holds more than the limit.
* Concurrency: a slot is a lease held while its Admission lives. Leases live in this
  process only, so a crash frees them all at once. A lease whose ``lease_ttl`` has
  passed is re-armed if its Admission is still referenced (the request is running: as
  Redis's refresher does) and dropped otherwise, so a caller that loses its Admission
  without settling frees the slot within ``lease_ttl``, like a crashed Redis client.
* Quota: per account and period, reset lazily when the period rolls over.

``acquire`` never awaits between its checks and its commit, so asyncio's single thread
makes it atomic without locks. State of idle keys is dropped by a sweep that runs at
most once per ``sweep_interval`` seconds, keeping memory proportional to live keys.
"""

from __future__ import annotations

import itertools
import math
import time
import weakref
from collections import deque

from router_core.errors import ConcurrentRequests, QuotaExceeded, RateLimitExceeded
from router_core.limits.base import Admission, Clock, Limits, QuotaPeriod
from router_core.limits.periods import (
    DAY_SECONDS,
    DEFAULT_LEASE_TTL,
    MINUTE_SECONDS,
    TPM_SPAN_BUCKETS,
    period_bounds,
)

_TPM_BACK = TPM_SPAN_BUCKETS - 1


class _KeyState:
    """Counters of one API key."""

    __slots__ = ("leases", "rpd", "rpm", "tpm", "tpm_total")

    def __init__(self) -> None:
        self.rpm: deque[float] = deque()
        self.rpd: deque[float] = deque()
        # bucket second -> tokens, inserted in ascending order (buckets only ever
        # appear at the current second), so the first item is the oldest.
        self.tpm: dict[int, int] = {}
        self.tpm_total = 0
        # lease id -> (expiry, the Admission holding it)
        self.leases: dict[str, tuple[float, weakref.ref[Admission]]] = {}

    def prune(self, now: float) -> None:
        """Forget everything that no longer counts at ``now``."""
        _prune_log(self.rpm, now - MINUTE_SECONDS)
        _prune_log(self.rpd, now - DAY_SECONDS)
        self.prune_tokens(now)

    def prune_tokens(self, now: float) -> None:
        """Drop TPM buckets older than the counted span."""
        cutoff = math.floor(now) - _TPM_BACK
        buckets = self.tpm
        while buckets:
            oldest = next(iter(buckets))
            if oldest >= cutoff:
                break
            self.tpm_total -= buckets.pop(oldest)

    def purge_leases(self, now: float, ttl: float) -> None:
        """Re-arm expired leases whose request still runs; free the others."""
        for lease_id, (expiry, holder) in list(self.leases.items()):
            if expiry > now:
                continue
            admission = holder()
            if admission is None or admission.settled:
                del self.leases[lease_id]
            else:
                self.leases[lease_id] = (now + ttl, holder)

    @property
    def idle(self) -> bool:
        return not (self.rpm or self.rpd or self.tpm or self.leases)


class _QuotaState:
    """Usage of one account in its current period."""

    __slots__ = ("cost", "end", "start", "tokens")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.tokens = 0
        self.cost = 0.0


def _prune_log(log: deque[float], cutoff: float) -> None:
    while log and log[0] <= cutoff:
        log.popleft()


def _rate_refusal(log: deque[float], limit: int, window: int, now: float) -> RateLimitExceeded:
    if limit == 0:
        return RateLimitExceeded("This key may not send requests", retryable=False)
    # The entry whose departure brings the count below the limit.
    frees_at = log[len(log) - limit] + window
    return RateLimitExceeded(retry_after=max(0.0, frees_at - now))


class MemoryLimiter:
    """The in-process ``Limiter``: exact, lock-free, bounded memory."""

    def __init__(
        self,
        clock: Clock = time.time,
        *,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        sweep_interval: float = 60.0,
    ) -> None:
        self._clock = clock
        self._lease_ttl = lease_ttl
        self._sweep_interval = sweep_interval
        self._next_sweep = clock() + sweep_interval
        self._keys: dict[str, _KeyState] = {}
        self._quotas: dict[QuotaPeriod, dict[str, _QuotaState]] = {"day": {}, "month": {}}
        self._lease_ids = itertools.count(1)

    async def acquire(
        self, key_id: str, account_id: str, spec: Limits, estimated_tokens: int
    ) -> Admission:
        """Admit one request or raise; on refusal nothing is consumed."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        if spec.unlimited:
            return Admission(key_id, account_id, "", 0, False, now)
        estimate = max(0, estimated_tokens)
        if spec.quota_tokens is not None or spec.quota_cost_usd is not None:
            self._check_quota(account_id, spec, now)
        state = self._keys.get(key_id)
        if state is None:
            state = self._keys[key_id] = _KeyState()
        # Check every dimension first, commit only when all pass (all-or-nothing).
        self._check(state, spec, estimate, now)
        return self._commit(state, key_id, account_id, spec, estimate, now)

    def _check(self, state: _KeyState, spec: Limits, estimate: int, now: float) -> None:
        """Raise the refusal of the first dimension with no room; change nothing."""
        if spec.rpd is not None:
            _prune_log(state.rpd, now - DAY_SECONDS)
            if len(state.rpd) >= spec.rpd:
                raise _rate_refusal(state.rpd, spec.rpd, DAY_SECONDS, now)
        if spec.rpm is not None:
            _prune_log(state.rpm, now - MINUTE_SECONDS)
            if len(state.rpm) >= spec.rpm:
                raise _rate_refusal(state.rpm, spec.rpm, MINUTE_SECONDS, now)
        if spec.tpm is not None:
            state.prune_tokens(now)
            if spec.tpm == 0 or state.tpm_total + estimate > spec.tpm:
                raise self._token_refusal(state, spec.tpm, estimate, now)
        if spec.concurrency is not None and len(state.leases) >= spec.concurrency:
            state.purge_leases(now, self._lease_ttl)
            if len(state.leases) >= spec.concurrency:
                raise ConcurrentRequests()

    def _commit(
        self,
        state: _KeyState,
        key_id: str,
        account_id: str,
        spec: Limits,
        estimate: int,
        now: float,
    ) -> Admission:
        """Count the admitted request in every dimension and say what is left."""
        lease_id = str(next(self._lease_ids))
        admission = Admission(key_id, account_id, lease_id, 0, False, now)
        if spec.rpd is not None:
            state.rpd.append(now)
            admission.requests_limit = spec.rpd
            admission.requests_remaining = spec.rpd - len(state.rpd)
            admission.requests_reset = state.rpd[0] + DAY_SECONDS
        if spec.rpm is not None:
            state.rpm.append(now)
            remaining = spec.rpm - len(state.rpm)
            # Report whichever window is tighter; on a tie the minute (sooner reset).
            if admission.requests_remaining is None or remaining <= admission.requests_remaining:
                admission.requests_limit = spec.rpm
                admission.requests_remaining = remaining
                admission.requests_reset = state.rpm[0] + MINUTE_SECONDS
        if spec.tpm is not None:
            if estimate:
                bucket = math.floor(now)
                state.tpm[bucket] = state.tpm.get(bucket, 0) + estimate
                state.tpm_total += estimate
            admission.reserved_tokens = estimate
            admission.tokens_limit = spec.tpm
            admission.tokens_remaining = max(0, spec.tpm - state.tpm_total)
            admission.tokens_reset = next(iter(state.tpm)) + TPM_SPAN_BUCKETS if state.tpm else now
        if spec.concurrency is not None:
            state.leases[lease_id] = (now + self._lease_ttl, weakref.ref(admission))
            admission.holds_slot = True
        return admission

    async def settle(
        self, admission: Admission, spec: Limits, used_tokens: int, cost_usd: float
    ) -> None:
        """Release the slot, true up the TPM reservation, charge the quota. Idempotent."""
        if admission.settled:
            return
        admission.settled = True
        if not admission.lease_id:
            return
        now = self._clock()
        used = max(0, used_tokens)
        state = self._keys.get(admission.key_id)
        if state is not None and admission.holds_slot:
            state.leases.pop(admission.lease_id, None)
        if spec.tpm is not None:
            delta = used - admission.reserved_tokens
            if state is None and delta > 0:
                state = self._keys[admission.key_id] = _KeyState()
            if state is not None:
                self._true_up_tokens(state, math.floor(admission.admitted_at), delta, now)
        if spec.quota_tokens is not None or spec.quota_cost_usd is not None:
            quota = self._quota(admission.account_id, spec.quota_period, now)
            quota.tokens += used
            quota.cost += max(0.0, cost_usd)

    async def refresh_leases(self) -> int:
        """Re-arm the lease of every request still running; return how many (the
        purge does this lazily too; this mirrors the Redis backend's refresher)."""
        now = self._clock()
        armed = 0
        for state in self._keys.values():
            for lease_id, (_, holder) in list(state.leases.items()):
                admission = holder()
                if admission is not None and not admission.settled:
                    state.leases[lease_id] = (now + self._lease_ttl, holder)
                    armed += 1
        return armed

    @property
    def tracked(self) -> int:
        """How many keys and account quotas hold state (memory stays bounded by it)."""
        return len(self._keys) + sum(len(by_account) for by_account in self._quotas.values())

    async def close(self) -> None:
        """Nothing to release; drops all state."""
        self._keys.clear()
        for by_account in self._quotas.values():
            by_account.clear()

    def _check_quota(self, account_id: str, spec: Limits, now: float) -> None:
        quota = self._quota(account_id, spec.quota_period, now)
        if (spec.quota_tokens is not None and quota.tokens >= spec.quota_tokens) or (
            spec.quota_cost_usd is not None and quota.cost >= spec.quota_cost_usd
        ):
            period = "daily" if spec.quota_period == "day" else "monthly"
            raise QuotaExceeded(
                f"The account's {period} quota is used up", retry_after=quota.end - now
            )

    def _quota(self, account_id: str, period: QuotaPeriod, now: float) -> _QuotaState:
        by_account = self._quotas[period]
        quota = by_account.get(account_id)
        if quota is None or not quota.start <= now < quota.end:
            quota = by_account[account_id] = _QuotaState(*period_bounds(period, now))
        return quota

    @staticmethod
    def _token_refusal(
        state: _KeyState, limit: int, estimate: int, now: float
    ) -> RateLimitExceeded:
        if limit == 0 or estimate > limit:
            return RateLimitExceeded(
                "The request needs more tokens than this key's tokens-per-minute limit",
                retryable=False,
            )
        needed = state.tpm_total + estimate - limit
        freed = 0
        for bucket, tokens in state.tpm.items():
            freed += tokens
            if freed >= needed:
                return RateLimitExceeded(retry_after=max(0.0, bucket + TPM_SPAN_BUCKETS - now))
        raise AssertionError("tokens over the limit must sit in some bucket")

    @staticmethod
    def _true_up_tokens(state: _KeyState, bucket: int, delta: int, now: float) -> None:
        # Replace the reservation in its own bucket while that still counts; once it
        # has aged out only an overrun matters, and it counts from now.
        state.prune_tokens(now)
        if bucket in state.tpm:
            state.tpm[bucket] += delta
            state.tpm_total += delta
            if state.tpm[bucket] <= 0:
                state.tpm_total -= state.tpm.pop(bucket)
        elif delta > 0:
            current = math.floor(now)
            state.tpm[current] = state.tpm.get(current, 0) + delta
            state.tpm_total += delta

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + self._sweep_interval
        idle = []
        for key_id, state in self._keys.items():
            state.prune(now)
            state.purge_leases(now, self._lease_ttl)
            if state.idle:
                idle.append(key_id)
        for key_id in idle:
            del self._keys[key_id]
        for by_account in self._quotas.values():
            for account_id in [a for a, q in by_account.items() if q.end <= now]:
                del by_account[account_id]
