"""The limit values (``Limits``, declared once for the whole core), the Limiter
protocol and what crosses it.

Semantics shared by every backend (docs/operations.md documents them for operators):

* ``None`` means "no limit" for that dimension; ``0`` means "nothing allowed".
* RPM / RPD: sliding-window log, exact: of R+k requests in any burst exactly R pass,
  and no 60 s (86,400 s) window ever holds more than R admitted requests.
* TPM: at admission the estimate (prompt estimate + output cap) is reserved; at
  settlement the reservation is replaced by the actual usage, so tokens not used
  (a stream cut short) are given back.
* Concurrency: a slot is held from admission until ``settle``. It is a lease that
  lives as long as its Admission object does (the request holds it): the Redis backend
  re-arms live leases every third of ``lease_ttl``, so a crashed process's slots come
  back within ``lease_ttl``; in process, a dropped Admission frees its slot.
* Quota: per account, tokens and/or cost per period (calendar month, UTC, by
  default), checked at admission (already used >= quota -> ``quota_exceeded``) and
  charged at settlement with the actual usage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import msgspec

QuotaPeriod = Literal["day", "month"]
Clock = Callable[[], float]


class RateLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The per-key dimensions: what a key may set (``None`` = take the account's)."""

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None
    concurrency: int | None = None


class Limits(RateLimits, frozen=True, kw_only=True):
    """Every limit dimension, declared once: an account's defaults and quota, the
    effective limits the limiter enforces for a key, and (by subclassing, so the
    wire stays flat) the admin API's input and the public views."""

    quota_tokens: int | None = None
    quota_cost_usd: float | None = None
    quota_period: QuotaPeriod = "month"

    @property
    def unlimited(self) -> bool:
        return (
            self.rpm is None
            and self.rpd is None
            and self.tpm is None
            and self.concurrency is None
            and self.quota_tokens is None
            and self.quota_cost_usd is None
        )


#: The dimensions a key may override, by name.
RATE_FIELDS: tuple[str, ...] = RateLimits.__struct_fields__
#: Every dimension, by name.
LIMIT_FIELDS: tuple[str, ...] = Limits.__struct_fields__

NO_LIMITS = Limits()
NO_RATE_LIMITS = RateLimits()


def as_rate_limits(source: RateLimits) -> RateLimits:
    """Just the rate dimensions of ``source`` (e.g. a wire Struct extending RateLimits)."""
    return RateLimits(**{name: getattr(source, name) for name in RATE_FIELDS})


def as_limits(source: Limits) -> Limits:
    """Just the limit dimensions of ``source`` (e.g. a wire Struct extending Limits)."""
    return Limits(**{name: getattr(source, name) for name in LIMIT_FIELDS})


def effective(account: Limits, key: RateLimits) -> Limits:
    """The key's rate limits where set, else the account's; the quota is the account's."""
    overrides = {n: v for n in RATE_FIELDS if (v := getattr(key, n)) is not None}
    return msgspec.structs.replace(account, **overrides) if overrides else account


@dataclass(slots=True, weakref_slot=True)
class Admission:
    """A granted request: what settle/release need, and where the client stands.

    ``*_reset`` are Unix times (float seconds) at which the window frees capacity
    again; ``None`` fields mean the dimension is unlimited.
    """

    key_id: str
    account_id: str
    lease_id: str
    reserved_tokens: int
    holds_slot: bool
    admitted_at: float
    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None
    settled: bool = field(default=False)


class Limiter(Protocol):
    """Admission control. Every backend implements exactly these semantics."""

    async def acquire(
        self, key_id: str, account_id: str, spec: Limits, estimated_tokens: int
    ) -> Admission:
        """Admit one request or raise ``RateLimitExceeded`` / ``ConcurrentRequests`` /
        ``QuotaExceeded`` (each with ``retry_after`` seconds where one is known)."""
        ...

    async def settle(
        self, admission: Admission, spec: Limits, used_tokens: int, cost_usd: float
    ) -> None:
        """The request ended (any way): release its slot, replace the TPM reservation
        with ``used_tokens`` and charge the quota. Idempotent."""
        ...

    async def close(self) -> None:
        """Release resources (connections)."""
        ...
