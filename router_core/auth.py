"""Bearer key -> Principal. Hashes compared in constant time; lookups cached.

A change made through this process (revoke, disable, rotate) invalidates the
cache at once; a change made by another process shows up within ``ttl`` seconds.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from router_core.catalog import ModelMatcher
from router_core.errors import AccountNotActive, ExpiredApiKey, InvalidApiKey
from router_core.limits.base import Limits
from router_core.store.base import Account, ApiKey, Store, effective_limits, hash_secret


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its account, effective limits and allowed models."""

    key: ApiKey
    account: Account
    limits: Limits
    models: ModelMatcher


@dataclass(slots=True)
class _Entry:
    expires: float
    principal: Principal | None


_BEARER = "bearer "


class Authenticator:
    """Resolves ``Authorization: Bearer KEY`` headers through a short-TTL cache."""

    def __init__(
        self,
        store: Store,
        ttl: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_entries: int = 100_000,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._mono = monotonic
        self._wall = wall
        self._max = max_entries
        self._cache: dict[str, _Entry] = {}
        self._generation = 0

    async def authenticate(self, header: str | None) -> Principal:
        """The Principal for a header value, or a 401 RouterError."""
        if not header:
            raise InvalidApiKey("Missing API key: send 'Authorization: Bearer YOUR_API_KEY'")
        if len(header) < 8 or header[:7].lower() != _BEARER:
            raise InvalidApiKey("Malformed Authorization header: expected 'Bearer YOUR_API_KEY'")
        secret = header[7:].strip()
        if not secret or len(secret) > 256:
            raise InvalidApiKey("Malformed Authorization header: expected 'Bearer YOUR_API_KEY'")
        digest = hash_secret(secret)
        now = self._mono()
        entry = self._cache.get(digest)
        if entry is None or entry.expires <= now:
            generation = self._generation
            entry = _Entry(now + self._ttl, await self._load(digest))
            # An invalidation that ran while we awaited the store may have made what
            # we loaded stale (a revocation): use it for this request, do not cache it.
            if generation == self._generation:
                if len(self._cache) >= self._max:
                    self._evict(now)
                self._cache[digest] = entry
        principal = entry.principal
        if principal is None or not hmac.compare_digest(principal.key.secret_hash, digest):
            raise InvalidApiKey()
        key = principal.key
        if key.revoked_at is not None:
            raise InvalidApiKey("The API key has been revoked")
        if key.expires_at is not None and key.expires_at <= self._wall():
            raise ExpiredApiKey()
        if principal.account.status != "active":
            raise AccountNotActive()
        return principal

    async def _load(self, digest: str) -> Principal | None:
        key = await self._store.get_key_by_hash(digest)
        if key is None:
            return None
        account = await self._store.get_account(key.account_id)
        if account is None:
            return None
        return Principal(
            key, account, effective_limits(account, key), ModelMatcher(key.allowed_models)
        )

    def _evict(self, now: float) -> None:
        for k in [k for k, e in self._cache.items() if e.expires <= now]:
            del self._cache[k]
        if len(self._cache) >= self._max:
            self._cache.clear()

    def invalidate(
        self,
        *,
        key_id: str | None = None,
        account_id: str | None = None,
        secret_hash: str | None = None,
    ) -> None:
        """Forget cached entries for a key, an account's keys, or a hash (incl. negatives)."""
        self._generation += 1
        if secret_hash is not None:
            self._cache.pop(secret_hash, None)
        if key_id is None and account_id is None:
            return
        for digest, entry in list(self._cache.items()):
            p = entry.principal
            if p is not None and (p.key.id == key_id or p.account.id == account_id):
                del self._cache[digest]
