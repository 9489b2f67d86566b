"""Redis at scale: a thousand concurrent requests on one router process, fake keys in
parallel with real ones, and a real three-master Redis Cluster shared by two routers."""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from router_core.settings import StateSettings
from router_core.store.factory import make_response_store, open_store
from router_core.store.responses_base import StoredResponse
from tests.redis_routers import ask, burst_session, make_keys, write_config
from tests.router_process import start_router_process
from tests.services import RedisServer, redis_cluster


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with burst_session(total_s=60) as s:
        yield s


@pytest.mark.parametrize(("mode", "pool"), [("fail_closed", 128), ("fail_open", 4)])
async def test_a_thousand_concurrent_requests_on_one_process(
    tmp_path: Path, redis_url: str, session: aiohttp.ClientSession, mode: str, pool: int
) -> None:
    """One burst of 1,000 on the default pool (128) and on 4 connections: no 5xx, rpm
    exact. Under fail_open a single call taken for a Redis failure would admit one more."""
    (key,) = await make_keys(redis_url, 1, rpm=600)
    config = write_config(tmp_path, redis_url, ttl=5.0, mode=mode, pool=pool)
    router = start_router_process(config, tmp_path)
    try:
        t0 = time.monotonic()
        answers = await asyncio.gather(*(ask(session, router, key) for _ in range(1000)))
        took = time.monotonic() - t0
        seen = collections.Counter((a.status, a.code) for a in answers)
        print(f"\n1,000 concurrent, {pool} connections ({mode}): {dict(seen)} in {took:.2f} s")
        assert seen == {(200, ""): 600, (429, "rate_limit_exceeded"): 400}
        assert "Traceback" not in router.output()
    finally:
        router.stop()


async def test_fake_keys_in_parallel_with_real_ones(
    tmp_path: Path, redis_url: str, session: aiohttp.ClientSession
) -> None:
    """200 random keys (one store lookup each) while 200 real requests run: real keys
    all served, fake ones all 401."""
    real = await make_keys(redis_url, 4)
    router = start_router_process(write_config(tmp_path, redis_url), tmp_path)
    try:
        fakes = [f"vr-{secrets.token_urlsafe(32)}" for _ in range(200)]
        calls = [ask(session, router, real[i % 4]) for i in range(200)]
        calls += [ask(session, router, fake) for fake in fakes]
        answers = await asyncio.gather(*calls)
        assert [a.status for a in answers[:200]] == [200] * 200
        assert {(a.status, a.code) for a in answers[200:]} == {(401, "invalid_api_key")}
        assert "Traceback" not in router.output()
    finally:
        router.stop()


async def test_two_routers_on_a_redis_cluster(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """Three masters that require a password, two router processes: limits exact per
    key across both, keys, usage and stored responses readable through the cluster."""
    with redis_cluster(tmp_path, password="cluster-secret") as nodes:
        url = f"redis://:cluster-secret@127.0.0.1:{nodes[0].port}/0"
        keys = await make_keys(url, 6, cluster=True, rpm=10)
        config = write_config(tmp_path, url, cluster=True)
        routers = [start_router_process(config, tmp_path) for _ in range(2)]
        try:
            calls = [ask(session, routers[i % 2], key) for key in keys for i in range(16)]
            answers = await asyncio.gather(*calls)
            for n, key in enumerate(keys):
                statuses = sorted(a.status for a in answers[n * 16 : (n + 1) * 16])
                assert statuses == [200] * 10 + [429] * 6, key[:8]
            await assert_usage(url, {len(keys): 10})
            await assert_responses_round_trip(url)
            moved = await move_store_slot(nodes)
            (fresh,) = await make_keys(url, 1, cluster=True)  # after the move: not cached
            for router in routers:
                seen = [await ask(session, router, fresh) for _ in range(3)]
                # At most one lookup meets MOVED (503, Retry-After); the next finds the node.
                assert [a.status for a in seen] in ([200] * 3, [503, 200, 200]), seen
            after = [a.status for a in seen]
            print(f"\ncluster: store slot moved to port {moved}; lookups after: {after}")
            for router in routers:
                assert "Traceback" not in router.output()
        finally:
            for router in routers:
                router.stop()
        spread = [len(await node_keys(node.port)) for node in nodes]
        print(f"\ncluster: keys per master {spread}")
        assert sum(1 for n in spread if n) >= 2  # the limit counters are spread by account


async def move_store_slot(nodes: list[RedisServer]) -> int:
    """Reshard the slot of the store's hash tag ``{vr}`` to another master, keys and all,
    the way ``redis-cli --cluster reshard`` does; the new owner's port."""
    import redis.asyncio as aioredis

    clients = {
        n.port: aioredis.Redis(host="127.0.0.1", port=n.port, password="cluster-secret")
        for n in nodes
    }
    try:
        any_client = next(iter(clients.values()))
        slot = int(await any_client.execute_command("CLUSTER", "KEYSLOT", "{vr}"))
        owners = [
            p
            for p, c in clients.items()
            if await c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
        ]
        assert len(owners) == 1
        src = owners[0]
        dst = next(p for p in clients if p != src)
        ids = {p: (await c.execute_command("CLUSTER", "MYID")) for p, c in clients.items()}
        ids = {p: i.decode() if isinstance(i, bytes) else i for p, i in ids.items()}
        await clients[dst].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src])
        await clients[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[dst])
        for _ in range(1000):  # bounded: 100 keys a round
            batch = await clients[src].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not batch:
                break
            await clients[src].execute_command(
                "MIGRATE", "127.0.0.1", dst, "", 0, 5000, "AUTH", "cluster-secret", "KEYS", *batch
            )
        for client in clients.values():
            await client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[dst])
        return dst
    finally:
        for client in clients.values():
            await client.aclose()


async def assert_usage(url: str, want: dict[int, int]) -> None:
    """Poll (the ledger flushes every second) until ``want`` = {keys: requests each}."""
    state = StateSettings(backend="redis", redis_url=url, redis_cluster=True)
    store = await open_store("redis", sqlite_path="", redis_url=url, state=state)
    try:
        assert len(await store.list_keys()) == next(iter(want))
        counts: dict[str, int] = {}
        for _ in range(100):
            counts = collections.defaultdict(int)
            for row in await store.query_usage():
                counts[row.key_id] += row.requests
            if collections.Counter(counts.values()) == collections.Counter(
                {v: k for k, v in want.items()}
            ):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"usage per key never became {want}: {dict(counts)}")
    finally:
        await store.close()


async def assert_responses_round_trip(url: str) -> None:
    """Stored responses (a MULTI over a record and its items) work on the cluster."""
    state = StateSettings(backend="redis", redis_url=url, redis_cluster=True)
    store = make_response_store("redis", sqlite_path="", redis_url=url, state=state)
    await store.open()
    now = time.time()
    try:
        for n in range(5):
            account = f"acct_{n}"
            record = StoredResponse(
                id="resp_1",
                account_id=account,
                created_at=now,
                expires_at=now + 60,
                response=b"{}",
                conversation=b"[]",
                items={"msg_1": b'{"type":"message"}'},
            )
            await store.put(record)
            assert (await store.get(account, "resp_1", now)) is not None
            assert await store.items(account, ["msg_1"], now) == {"msg_1": b'{"type":"message"}'}
            assert await store.delete(account, "resp_1")
    finally:
        await store.close()


async def node_keys(port: int) -> list[bytes]:
    import redis.asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=port, password="cluster-secret")
    try:
        return list(await client.keys("*"))
    finally:
        await client.aclose()
