"""The Authenticator over a real Redis store that dies: stale keys, 503s, recovery,
and one store lookup for a burst of misses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from router_core.accounts import AccountService
from router_core.auth import Authenticator
from router_core.errors import InvalidApiKey, ServerError
from router_core.store.redis import RedisStore
from tests.services import RedisServer, redis_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def durable(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path, ("--appendonly", "yes", "--appendfsync", "always")) as server:
        yield server


@pytest.fixture
async def store(durable: RedisServer) -> AsyncIterator[RedisStore]:
    opened = RedisStore(durable.url)
    await opened.open()
    yield opened
    await opened.close()


async def test_known_keys_stay_stale_unknown_get_503_and_it_recovers(
    durable: RedisServer, store: RedisStore
) -> None:
    svc = AccountService(store)
    account = await svc.create_account("a")
    _, known = await svc.create_key(account.id, "known")
    _, fresh = await svc.create_key(account.id, "never used before the outage")
    errors: list[str] = []
    clock = Clock()
    auth = Authenticator(
        store, 5.0, stale=60.0, monotonic=clock, on_error=lambda kind, _: errors.append(kind)
    )
    assert (await auth.authenticate(f"Bearer {known}")).account.id == account.id
    with pytest.raises(InvalidApiKey):
        await auth.authenticate("Bearer vr-not-a-key")

    durable.kill()
    auth.clear()  # a config reload during the outage keeps the entries for the window
    clock.now += 10  # past the 5 s TTL, inside the 60 s stale window
    assert (await auth.authenticate(f"Bearer {known}")).account.id == account.id
    with pytest.raises(InvalidApiKey):  # a known bad key stays bad
        await auth.authenticate("Bearer vr-not-a-key")
    with pytest.raises(ServerError) as unseen:
        await auth.authenticate(f"Bearer {fresh}")
    assert unseen.value.http_status == 503
    assert unseen.value.headers == {"Retry-After": "1"}
    assert "lookup" in errors

    clock.now += 100  # past the stale window too
    with pytest.raises(ServerError):
        await auth.authenticate(f"Bearer {known}")

    durable.start()  # its append-only file brings the keys back
    clock.now += 2
    for secret in (known, fresh):
        assert (await auth.authenticate(f"Bearer {secret}")).account.id == account.id


async def test_a_burst_of_misses_costs_one_lookup(durable: RedisServer, store: RedisStore) -> None:
    svc = AccountService(store)
    account = await svc.create_account("a")
    _, secret = await svc.create_key(account.id, "k")
    auth = Authenticator(store, 5.0)
    client = aioredis.Redis.from_url(durable.url)
    try:
        before = await hget_calls(client)
        principals = await asyncio.gather(
            *(auth.authenticate(f"Bearer {secret}") for _ in range(200))
        )
        assert {p.account.id for p in principals} == {account.id}
        assert await hget_calls(client) - before == 1
    finally:
        await client.aclose()


async def hget_calls(client: aioredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_hget", {}).get("calls", 0))
