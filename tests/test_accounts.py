"""AccountService: key revocation is final, on both store backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

from router_core.accounts import AccountService
from router_core.store.base import Store
from router_core.store.sqlite import SqliteStore
from tests.services import RedisServer


async def _revoke_rotate_race(store: Store) -> list[bool]:
    svc = AccountService(store)
    acct = await svc.create_account("a")
    revived = []
    for _ in range(20):
        key, _ = await svc.create_key(acct.id, "k")
        await asyncio.gather(svc.revoke_key(key.id), svc.rotate_key(key.id), return_exceptions=True)
        final = await store.get_key(key.id)
        assert final is not None
        revived.append(final.revoked_at is None)
    return revived


async def test_a_rotate_racing_a_revoke_never_revives_the_key_sqlite(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "race.db"))
    await store.open()
    try:
        assert not any(await _revoke_rotate_race(store))
    finally:
        await store.close()


async def test_a_rotate_racing_a_revoke_never_revives_the_key_redis(
    redis_proc: RedisServer, redis_url: str
) -> None:
    from router_core.store.redis import RedisStore

    store = RedisStore(redis_url)
    await store.open()
    try:
        assert not any(await _revoke_rotate_race(store))
    finally:
        await store.close()
