"""Bearer key -> Principal. Hashes compared in constant time; lookups cached.

A change made through this process (revoke, disable, rotate) invalidates the
cache at once; a change made by another process shows up within ``ttl`` seconds.

Concurrent misses on one key share one store lookup (a burst of a thousand requests
with a fresh key costs one round trip, not a thousand). When the store cannot answer,
an expired entry keeps serving for ``stale`` more seconds, so known keys keep working
(and known bad ones keep failing) through an outage, without waiting on the store again
for a second after a lookup failed; a key never seen gets 503 ``server_error`` with
``Retry-After``. The first lookup that succeeds after the store returns refreshes.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from router_core.catalog import ModelMatcher
from router_core.errors import AccountNotActive, ExpiredApiKey, InvalidApiKey, ServerError
from router_core.limits.base import Limits
from router_core.store.base import (
    Account,
    ApiKey,
    Store,
    StoreUnavailable,
    effective_limits,
    hash_secret,
)


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
_UNAVAILABLE = "The key store is unavailable; try again shortly"
# After a failed lookup, stale entries answer at once for this long (no wait on a store
# that just failed); each such request still starts a lookup, so recovery is immediate.
_DOWN_HOLD_S = 1.0


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
        stale: float = 0.0,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._stale = stale
        self._on_error = on_error
        self._mono = monotonic
        self._wall = wall
        self._max = max_entries
        self._cache: dict[str, _Entry] = {}
        self._loading: dict[str, asyncio.Future[_Entry]] = {}
        self._down_until = 0.0  # monotonic time until which the store counts as failing
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
            entry = await self._refresh(digest, entry, now)
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

    async def _refresh(self, digest: str, cached: _Entry | None, now: float) -> _Entry:
        loading = self._loading.get(digest)
        if loading is None:
            loading = asyncio.ensure_future(self._load_entry(digest))
            self._loading[digest] = loading
            loading.add_done_callback(lambda done: self._loaded(digest, done))
        usable = cached is not None and now < cached.expires + self._stale
        if usable and now < self._down_until:
            # The store failed a moment ago: answer from the stale entry at once and
            # let the lookup started above refresh it if the store is back.
            assert cached is not None
            return cached
        try:
            # Shielded: a client that leaves must not cancel the lookup others wait on.
            return await asyncio.shield(loading)
        except (StoreUnavailable, OSError) as exc:
            if usable:
                assert cached is not None
                return cached
            raise ServerError(
                _UNAVAILABLE,
                detail=f"key lookup failed: {exc!r}",
                status=503,
                retry_after=1.0,
                headers={"Retry-After": "1"},
            ) from exc

    def _loaded(self, digest: str, done: asyncio.Future[_Entry]) -> None:
        if self._loading.get(digest) is done:
            del self._loading[digest]
        error = None if done.cancelled() else done.exception()  # also marks it retrieved
        if error is None:
            self._down_until = 0.0
            return
        self._down_until = self._mono() + _DOWN_HOLD_S
        if self._on_error is not None:
            self._on_error("lookup", error)

    async def _load_entry(self, digest: str) -> _Entry:
        generation = self._generation
        principal = await self._load(digest)
        now = self._mono()
        entry = _Entry(now + self._ttl, principal)
        # An invalidation that ran while we awaited the store may have made what
        # we loaded stale (a revocation): use it for the requests waiting, do not cache it.
        if generation == self._generation:
            if len(self._cache) >= self._max:
                self._evict(now)
            self._cache[digest] = entry
        return entry

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

    def clear(self) -> None:
        """Expire every cached entry (a config reload: changes made elsewhere apply now).

        Entries stay for the stale window, so a reload while the store is down does not
        turn every known key into a 503."""
        self._generation += 1
        now = self._mono()
        for entry in self._cache.values():
            entry.expires = min(entry.expires, now)

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
