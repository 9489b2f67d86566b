"""Stored responses (store / previous_response_id), the same contract on SQLite and on
a real redis-server: round trip, account scoping, deletion, item index, retention."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router_core.store.factory import make_response_store, responses_sqlite_path
from router_core.store.responses_base import ResponseStore, StoredResponse
from router_core.store.responses_sqlite import PURGE_BATCH, SqliteResponseStore
from tests.services import RedisServer

NOW = 1_760_000_000.0


@pytest.fixture(params=["embedded", "redis"])
async def rstore(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ResponseStore]:
    redis_url = "redis://127.0.0.1:1/0"
    if request.param == "redis":
        import redis.asyncio as aioredis

        server: RedisServer = request.getfixturevalue("redis_proc")
        server.start()
        redis_url = server.url
        client = aioredis.Redis.from_url(redis_url)
        await client.flushall()
        await client.aclose()
    store = make_response_store(
        request.param, sqlite_path=str(tmp_path / "state.db"), redis_url=redis_url
    )
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def record(
    rid: str = "resp_1", account: str = "acct_a", *, ttl: float = 3600.0, now: float = NOW
) -> StoredResponse:
    return StoredResponse(
        id=rid,
        account_id=account,
        created_at=now,
        expires_at=now + ttl,
        response=b'{"id":"' + rid.encode() + b'","object":"response"}',
        conversation=b'[{"role":"user","content":"hi"}]',
        items={f"msg_{rid}": b'{"type":"message","id":"msg_' + rid.encode() + b'"}'},
    )


async def test_round_trip(rstore: ResponseStore) -> None:
    await rstore.put(record())
    got = await rstore.get("acct_a", "resp_1", NOW + 1)
    assert got is not None
    assert got.response == b'{"id":"resp_1","object":"response"}'
    assert got.conversation == b'[{"role":"user","content":"hi"}]'
    assert got.created_at == NOW and got.expires_at == NOW + 3600
    items = await rstore.items("acct_a", ["msg_resp_1", "msg_nope"], NOW + 1)
    assert items == {"msg_resp_1": b'{"type":"message","id":"msg_resp_1"}'}


async def test_another_accounts_response_is_absent(rstore: ResponseStore) -> None:
    await rstore.put(record())
    assert await rstore.get("acct_b", "resp_1", NOW) is None
    assert await rstore.items("acct_b", ["msg_resp_1"], NOW) == {}
    assert await rstore.delete("acct_b", "resp_1") is False
    assert await rstore.get("acct_a", "resp_1", NOW) is not None


async def test_delete_removes_record_and_items(rstore: ResponseStore) -> None:
    await rstore.put(record())
    await rstore.put(record("resp_2"))
    assert await rstore.delete("acct_a", "resp_1") is True
    assert await rstore.get("acct_a", "resp_1", NOW) is None
    assert await rstore.items("acct_a", ["msg_resp_1", "msg_resp_2"], NOW) == {
        "msg_resp_2": b'{"type":"message","id":"msg_resp_2"}'
    }
    assert await rstore.delete("acct_a", "resp_1") is False


async def test_expired_record_reads_as_absent(rstore: ResponseStore) -> None:
    await rstore.put(record(ttl=60))
    assert await rstore.get("acct_a", "resp_1", NOW + 59) is not None
    assert await rstore.get("acct_a", "resp_1", NOW + 61) is None


async def test_sqlite_expired_items_read_as_absent(tmp_path: Path) -> None:
    # Redis drops items by TTL at the real clock (test_redis_expires_keys_itself).
    store = SqliteResponseStore(str(tmp_path / "r.db"))
    await store.open()
    try:
        await store.put(record(ttl=60))
        assert await store.items("acct_a", ["msg_resp_1"], NOW + 59) != {}
        assert await store.items("acct_a", ["msg_resp_1"], NOW + 61) == {}
    finally:
        await store.close()


async def test_redis_expires_keys_itself(redis_url: str) -> None:
    import time

    import redis.asyncio as aioredis

    store = make_response_store("redis", sqlite_path="", redis_url=redis_url)
    await store.open()
    try:
        await store.put(record(ttl=0.3, now=time.time()))
        client = aioredis.Redis.from_url(redis_url)
        try:
            assert sorted(await client.keys("vr:resp*")) == [
                b"vr:resp:acct_a:resp_1",
                b"vr:resp_item:acct_a:msg_resp_1",
            ]
            assert 0 < await client.pttl("vr:resp:acct_a:resp_1") <= 300
            for _ in range(100):  # bounded: 5 s at most
                if not await client.keys("vr:resp*"):
                    break
                await asyncio.sleep(0.05)
            assert await client.keys("vr:resp*") == []
        finally:
            await client.aclose()
    finally:
        await store.close()


async def test_sqlite_purges_expired_rows_on_write(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = SqliteResponseStore(str(path))
    await store.open()
    try:
        for i in range(PURGE_BATCH + 5):
            await store.put(record(f"old_{i}", ttl=10, now=NOW))
        await store.put(record("fresh", now=NOW + 100))  # purges one batch
        await store.put(record("fresh2", now=NOW + 100))  # and the rest
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT id FROM responses ORDER BY id").fetchall() == [
            ("fresh",),
            ("fresh2",),
        ]
        assert conn.execute("SELECT count(*) FROM response_items").fetchone() == (2,)
    finally:
        conn.close()


def test_sqlite_path_beside_the_state_file() -> None:
    assert responses_sqlite_path("data/viberouter.db") == "data/viberouter-responses.db"
    assert responses_sqlite_path("state") == "state-responses"
    assert responses_sqlite_path("./x.y/state") == "./x.y/state-responses"
    assert responses_sqlite_path(":memory:") == ":memory:"
    assert responses_sqlite_path("a.db", "/var/lib/r.db") == "/var/lib/r.db"
