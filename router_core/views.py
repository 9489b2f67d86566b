"""Public views of accounts, keys and usage (admin API and CLI --json): never a hash."""

from __future__ import annotations

import msgspec
from msgspec import Struct

from router_core.store.base import Account, ApiKey, UsageRow


class AccountView(Struct, kw_only=True):
    id: str
    name: str
    status: str
    created_at: float
    rpm: int | None
    rpd: int | None
    tpm: int | None
    concurrency: int | None
    quota_tokens: int | None
    quota_cost_usd: float | None
    quota_period: str


class KeyView(Struct, kw_only=True):
    id: str
    account_id: str
    name: str
    prefix: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None
    rpm: int | None
    rpd: int | None
    tpm: int | None
    concurrency: int | None
    allowed_models: list[str]
    status: str


class NewKeyView(Struct, kw_only=True):
    key: KeyView
    secret: str  # shown once


class UsageView(Struct, kw_only=True):
    day: str
    account_id: str
    key_id: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def account_view(a: Account) -> AccountView:
    return msgspec.convert(a, AccountView, from_attributes=True)


def key_status(k: ApiKey, now: float) -> str:
    if k.revoked_at is not None:
        return "revoked"
    if k.expires_at is not None and k.expires_at <= now:
        return "expired"
    return "active"


def key_view(k: ApiKey, now: float) -> KeyView:
    return KeyView(
        id=k.id,
        account_id=k.account_id,
        name=k.name,
        prefix=k.prefix,
        created_at=k.created_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
        last_used_at=k.last_used_at,
        rpm=k.rpm,
        rpd=k.rpd,
        tpm=k.tpm,
        concurrency=k.concurrency,
        allowed_models=list(k.allowed_models),
        status=key_status(k, now),
    )


def usage_view(r: UsageRow) -> UsageView:
    view = msgspec.convert(r, UsageView, from_attributes=True)
    view.cost_usd = round(r.cost_usd, 8)
    return view
