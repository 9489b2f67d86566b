"""The Store protocol and its records.

Secrets are never stored: a key is stored as ``sha256(secret)`` hex plus a short
human prefix. Secrets are 256-bit random strings, so a fast hash is the right tool
(a slow KDF protects low-entropy passwords, not random keys).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from router_core.limits.base import LimitSpec, QuotaPeriod

AccountStatus = Literal["active", "inactive"]

SECRET_PREFIX = "vr-"


def new_secret() -> str:
    """A fresh API key secret: ``vr-`` + 43 URL-safe characters (256 bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """What listings show of a secret, e.g. ``vr-3f9aQ1…``."""
    return secret[:9] + "…"


def new_id(kind: str) -> str:
    """``acct_…`` / ``key_…`` ids: short, random, URL-safe."""
    return f"{kind}_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    status: AccountStatus
    created_at: float
    # Defaults for the account's keys (None = no limit).
    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None
    concurrency: int | None = None
    # Quota for the whole account per period (None = no quota).
    quota_tokens: int | None = None
    quota_cost_usd: float | None = None
    quota_period: QuotaPeriod = "month"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    account_id: str
    name: str
    prefix: str
    secret_hash: str
    created_at: float
    expires_at: float | None = None
    revoked_at: float | None = None
    last_used_at: float | None = None
    # Per-key limits; None = the account's default.
    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None
    concurrency: int | None = None
    allowed_models: tuple[str, ...] = field(default_factory=tuple)  # globs; empty = all


def effective_limits(account: Account, key: ApiKey) -> LimitSpec:
    """Key limits where set, else the account's defaults; quota is the account's."""
    return LimitSpec(
        rpm=key.rpm if key.rpm is not None else account.rpm,
        rpd=key.rpd if key.rpd is not None else account.rpd,
        tpm=key.tpm if key.tpm is not None else account.tpm,
        concurrency=key.concurrency if key.concurrency is not None else account.concurrency,
        quota_tokens=account.quota_tokens,
        quota_cost_usd=account.quota_cost_usd,
        quota_period=account.quota_period,
    )


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One finished request, as the ledger records it."""

    ts: float
    account_id: str
    key_id: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Aggregated usage for one (day, account, key, model)."""

    day: str  # YYYY-MM-DD, UTC
    account_id: str
    key_id: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class NotFound(LookupError):
    """An id that does not exist (CLI and admin API turn it into exit 2 / HTTP 404)."""


class Store(Protocol):
    """Accounts, keys and usage. Every method is safe to call on the event loop
    (backends keep blocking work off it)."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # accounts
    async def create_account(self, account: Account) -> Account: ...
    async def get_account(self, account_id: str) -> Account | None: ...
    async def list_accounts(self) -> list[Account]: ...
    async def update_account(self, account: Account) -> Account:
        """Replace an existing account's fields; raises NotFound."""
        ...

    # keys
    async def create_key(self, key: ApiKey) -> ApiKey: ...
    async def get_key(self, key_id: str) -> ApiKey | None: ...
    async def get_key_by_hash(self, secret_hash: str) -> ApiKey | None: ...
    async def list_keys(self, account_id: str | None = None) -> list[ApiKey]: ...
    async def update_key(self, key: ApiKey) -> ApiKey:
        """Replace an existing key's fields (revoke, rotate, limits); raises NotFound."""
        ...

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        """Batch-update last_used_at for many keys."""
        ...

    # usage ledger
    async def record_usage(self, events: Sequence[UsageEvent]) -> None:
        """Add events to the per-day aggregates (atomic per event batch)."""
        ...

    async def query_usage(
        self,
        account_id: str | None = None,
        key_id: str | None = None,
        since_day: str | None = None,
    ) -> list[UsageRow]: ...
