"""Store records in their public shape (admin API and CLI ``--json``): never a hash.

The limit fields come from extending :class:`~router_core.limits.base.Limits`, so the
JSON stays flat (``"rpm": 60`` beside ``"name"``) with each dimension declared once.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from router_core.limits.base import Limits, RateLimits
from router_core.store.base import Account, ApiKey, UsageRow


class AccountView(Limits, frozen=True, kw_only=True):
    """An account as the admin API shows it."""

    id: str
    name: str
    status: str
    created_at: float


class KeyView(RateLimits, frozen=True, kw_only=True):
    """A key as the admin API shows it: its prefix, never its hash."""

    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    allowed_models: list[str]
    status: str
    error_format: str | None = None


class NewKeyView(Struct, kw_only=True):
    """A key just created or rotated, with its secret (the only time it is shown)."""

    key: KeyView
    secret: str  # shown once


class UsageView(Struct, kw_only=True):
    """One (day, account, key, model) usage row."""

    day: str
    account_id: str
    key_id: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def account_view(a: Account) -> AccountView:
    """The public shape of an account."""
    return AccountView(
        id=a.id,
        name=a.name,
        status=a.status,
        created_at=a.created_at,
        **msgspec.structs.asdict(a.limits),
    )


def key_status(k: ApiKey, now: float) -> str:
    """``revoked``, ``expired`` or ``active`` at ``now``."""
    if k.revoked_at is not None:
        return "revoked"
    if k.expires_at is not None and k.expires_at <= now:
        return "expired"
    return "active"


def key_view(k: ApiKey, now: float) -> KeyView:
    """The public shape of a key at ``now`` (its status depends on the time)."""
    return KeyView(
        id=k.id,
        account_id=k.account_id,
        name=k.name,
        prefix=k.prefix,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
        **msgspec.structs.asdict(k.limits),
        allowed_models=list(k.allowed_models),
        status=key_status(k, now),
        error_format=k.error_format,
    )


def usage_view(r: UsageRow) -> UsageView:
    """The public shape of a usage row (cost rounded to 8 places)."""
    view = msgspec.convert(r, UsageView, from_attributes=True)
    view.cost_usd = round(r.cost_usd, 8)
    return view
