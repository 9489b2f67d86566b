"""The store's records and protocols: ``Store`` (accounts, keys, usage: the core's),
``DashboardStore`` (members, sessions, sign-in throttling: the dashboard's) and
``StoreBackend`` (both, with open/close: what SQLite and Redis implement).

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

from router_core.limits.base import NO_LIMITS, NO_RATE_LIMITS, Limits, RateLimits, effective

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
    """A customer: its keys share its rate-limit defaults and its quota."""

    id: str
    name: str
    status: AccountStatus
    created_at: float
    # Rate limits: defaults for the account's keys; quota: for the whole account.
    limits: Limits = NO_LIMITS


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key of an account; ``secret_hash`` is all that is kept of the secret."""

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
    limits: RateLimits = NO_RATE_LIMITS
    allowed_models: tuple[str, ...] = field(default_factory=tuple)  # globs; empty = all
    # Error body shape for this key ("viberouter" | "openai"); None = server.error_format.
    error_format: str | None = None


def effective_limits(account: Account, key: ApiKey) -> Limits:
    """Key limits where set, else the account's defaults; quota is the account's."""
    return effective(account.limits, key.limits)


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


@dataclass(frozen=True, slots=True)
class Member:
    """A person who signs in to an account's dashboard.

    ``email`` is stored lower-cased and is unique across accounts; ``password_hash``
    is a self-describing slow-KDF string (see ``router_core.dashboard.passwords``).
    """

    id: str
    account_id: str
    email: str
    password_hash: str
    created_at: float
    last_login_at: float | None = None


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """A signed-in browser. ``id_hash`` is ``sha256(cookie value)``: a leaked store
    does not hand out live sessions."""

    id_hash: str
    member_id: str
    account_id: str
    csrf_token: str
    created_at: float
    expires_at: float


#: How long a store remembers an applied usage batch id (the ledger retries a batch
#: only while its process lives, so a day is far more than a retry can take).
BATCH_ID_TTL_S = 86400.0


class StoreUnavailable(RuntimeError):
    """The store cannot serve now (not open, or its backend is gone)."""


class NotFound(LookupError):
    """An id that does not exist (CLI and admin API turn it into exit 2 / HTTP 404)."""


class Store(Protocol):
    """Accounts, keys and usage: what auth, the ledger, the admin API and the CLI use.
    Every method is safe to call on the event loop (backends keep blocking work off it)."""

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
        """Replace an existing key's fields (revoke, rotate, limits); raises NotFound for
        an unknown key and for a write that would un-revoke a revoked key."""
        ...

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        """Batch-update last_used_at for many keys."""
        ...

    # usage ledger
    async def record_usage(
        self, events: Sequence[UsageEvent], *, batch_id: str | None = None
    ) -> None:
        """Add events to the per-day aggregates (atomic per event batch). A batch
        with a ``batch_id`` the store has already applied (within BATCH_ID_TTL_S) is
        not applied again, so the ledger can retry a write whose outcome it missed."""
        ...

    async def query_usage(
        self,
        account_id: str | None = None,
        key_id: str | None = None,
        since_day: str | None = None,
    ) -> list[UsageRow]: ...


class DashboardStore(Protocol):
    """Members, sessions and sign-in throttling: what only the dashboard uses. Same
    event-loop promise as :class:`Store`."""

    # members
    async def create_member(self, member: Member) -> Member:
        """Insert a member; NotFound for an unknown account, ValueError if the id or
        email is taken."""
        ...

    async def get_member(self, member_id: str) -> Member | None: ...
    async def get_member_by_email(self, email: str) -> Member | None:
        """The member with this (lower-cased) email, or None."""
        ...

    async def list_members(self, account_id: str | None = None) -> list[Member]:
        """All members, or one account's, oldest first."""
        ...

    async def update_member(self, member: Member) -> Member:
        """Replace a member's fields (the email may change, the id may not); raises
        NotFound, or ValueError if the new email is taken."""
        ...

    async def delete_member(self, member_id: str) -> None:
        """Remove a member and every session of theirs; raises NotFound."""
        ...

    # sessions
    async def create_session(self, session: DashboardSession) -> None:
        """Store a session (and drop expired ones on the way)."""
        ...

    async def get_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The session unless unknown or expired at ``now``."""
        ...

    async def delete_session(self, id_hash: str) -> None:
        """Forget a session (sign-out); unknown ids are ignored."""
        ...

    async def delete_member_sessions(self, member_id: str) -> int:
        """End every session of a member (after a password change); how many ended."""
        ...

    # sign-in throttling
    async def login_failures(self, subject: str) -> tuple[int, float]:
        """``(failed attempts, time of the last one)`` for a subject; ``(0, 0.0)`` if none."""
        ...

    async def add_login_failure(self, subject: str, now: float, forget_after: float) -> int:
        """Count one failed attempt and return the new count; a subject idle for
        ``forget_after`` seconds starts again from zero."""
        ...

    async def clear_login_failures(self, subject: str) -> None:
        """Forget a subject's failures (after a successful sign-in)."""
        ...


class StoreBackend(Store, DashboardStore, Protocol):
    """What a backend (``SqliteStore``, ``RedisStore``) implements: both protocols, and
    the life cycle that only its owner (the app, a CLI command) calls."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
