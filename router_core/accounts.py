"""Account and key operations shared by the CLI and the admin API."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from router_core.limits.base import NO_LIMITS, NO_RATE_LIMITS, Limits, RateLimits
from router_core.store.base import (
    Account,
    AccountStatus,
    ApiKey,
    NotFound,
    Store,
    display_prefix,
    hash_secret,
    new_id,
    new_secret,
)

if TYPE_CHECKING:
    # the CLI uses accounts without a server: no catalog, aiohttp or plugins imported
    from router_core.auth import Authenticator


class AccountService:
    """Creates, changes and looks up accounts and keys; keeps the auth cache honest."""

    def __init__(self, store: Store, auth: Authenticator | None = None) -> None:
        self.store = store
        self._auth = auth

    async def create_account(
        self,
        name: str,
        limits: Limits = NO_LIMITS,
    ) -> Account:
        account = Account(
            id=new_id("acct"),
            name=name,
            status="active",
            created_at=time.time(),
            limits=limits,
        )
        return await self.store.create_account(account)

    async def account(self, account_id: str) -> Account:
        account = await self.store.get_account(account_id)
        if account is None:
            raise NotFound(f"no account {account_id!r}")
        return account

    async def find_account(self, ref: str) -> Account:
        """The account whose id is ``ref``, else the one account named ``ref`` (operators
        remember names; ids are for scripts). Several of that name -> NotFound listing them."""
        account = await self.store.get_account(ref)
        if account is not None:
            return account
        named = [a for a in await self.store.list_accounts() if a.name == ref]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(a.id for a in named)
            raise NotFound(f"{len(named)} accounts are named {ref!r} ({ids}); give the id")
        raise NotFound(f"no account with id or name {ref!r}")

    async def set_status(self, account_id: str, status: AccountStatus) -> Account:
        account = replace(await self.account(account_id), status=status)
        account = await self.store.update_account(account)
        if self._auth:
            self._auth.invalidate(account_id=account_id)
        return account

    async def update_account(self, account: Account) -> Account:
        account = await self.store.update_account(account)
        if self._auth:
            self._auth.invalidate(account_id=account.id)
        return account

    async def create_key(
        self,
        account_id: str,
        name: str = "",
        *,
        expires_at: float | None = None,
        limits: RateLimits = NO_RATE_LIMITS,
        allowed_models: Sequence[str] = (),
        error_format: str | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (shown once, never stored)."""
        await self.account(account_id)
        secret = new_secret()
        key = ApiKey(
            id=new_id("key"),
            account_id=account_id,
            name=name,
            prefix=display_prefix(secret),
            secret_hash=hash_secret(secret),
            created_at=time.time(),
            expires_at=expires_at,
            limits=limits,
            allowed_models=tuple(allowed_models),
            error_format=error_format,
        )
        key = await self.store.create_key(key)
        if self._auth:
            self._auth.invalidate(secret_hash=key.secret_hash)
        return key, secret

    async def key(self, key_id: str) -> ApiKey:
        key = await self.store.get_key(key_id)
        if key is None:
            raise NotFound(f"no key {key_id!r}")
        return key

    async def revoke_key(self, key_id: str) -> ApiKey:
        key = await self.key(key_id)
        if key.revoked_at is None:
            key = await self.store.update_key(replace(key, revoked_at=time.time()))
        if self._auth:
            self._auth.invalidate(key_id=key_id)
        return key

    async def rotate_key(self, key_id: str) -> tuple[ApiKey, str]:
        """Replace a key's secret in place (same id, limits and history)."""
        key = await self.key(key_id)
        if key.revoked_at is not None:
            raise NotFound(f"key {key_id!r} is revoked")
        secret = new_secret()
        key = await self.store.update_key(
            replace(key, secret_hash=hash_secret(secret), prefix=display_prefix(secret))
        )
        if self._auth:
            self._auth.invalidate(key_id=key_id)
        return key, secret

    async def ensure_demo(self) -> str | None:
        """On an empty store: a demo account and key; returns the secret, else None."""
        if await self.store.list_accounts():
            return None
        # Limits set (and generous) so the demo shows the rate-limit headers at work.
        account = await self.create_account("demo", Limits(rpm=600, tpm=1_000_000, concurrency=64))
        _, secret = await self.create_key(account.id, "demo")
        return secret
