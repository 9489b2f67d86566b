"""One contract for every Store backend: SQLite (embedded) and Redis (shared)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import redis.asyncio as aioredis

from router_core.limits.base import Limits, RateLimits
from router_core.store.base import (
    Account,
    ApiKey,
    NotFound,
    Store,
    UsageEvent,
    UsageRow,
    display_prefix,
    hash_secret,
    new_id,
    new_secret,
)
from router_core.store.factory import open_store
from router_core.store.sqlite import SqliteStore


def ts(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> float:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Backend:
    kind: str
    sqlite_path: str
    redis_url: str

    async def open(self) -> Store:
        return await open_store(self.kind, sqlite_path=self.sqlite_path, redis_url=self.redis_url)

    async def stored_text(self) -> str:
        """Everything the backend holds, as text, for scanning."""
        if self.kind == "embedded":
            path = Path(self.sqlite_path)
            # WAL mode: recent writes may live in -wal until a checkpoint.
            files = sorted(path.parent.glob(path.name + "*"))
            return "\n".join(f.read_bytes().decode("latin-1") for f in files)
        client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
        parts: list[object] = []
        try:
            async for name in client.scan_iter():
                parts.append(name)
                kind = await client.type(name)
                if kind == "hash":
                    for field, value in (await client.hgetall(name)).items():
                        parts += [field, value]
                elif kind == "set":
                    parts += await client.smembers(name)
                elif kind == "zset":
                    parts += await client.zrange(name, 0, -1)
                else:
                    parts.append(str(await client.dump(name)))
        finally:
            await client.aclose()
        return "\n".join(map(str, parts))


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("embedded", sqlite_path=str(tmp_path / "store.db"), redis_url="")
    return Backend("redis", sqlite_path="", redis_url=request.getfixturevalue("redis_url"))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = await backend.open()
    yield opened
    await opened.close()


def make_account(name: str = "research", created_at: float = 1_700_000_000.0) -> Account:
    return Account(id=new_id("acct"), name=name, status="active", created_at=created_at)


def make_key(account: Account, secret: str | None = None, created_at: float = 1.7e9) -> ApiKey:
    secret = secret or new_secret()
    return ApiKey(
        id=new_id("key"),
        account_id=account.id,
        name="notebook",
        prefix=display_prefix(secret),
        secret_hash=hash_secret(secret),
        created_at=created_at,
    )


# accounts


async def test_account_create_get_list(store: Store) -> None:
    later = make_account("later", created_at=1_700_000_500.0)
    full = Account(
        id=new_id("acct"), name="full", status="active", created_at=1_700_000_000.25,
        limits=Limits(
            rpm=60, rpd=1000, tpm=90_000, concurrency=4,
            quota_tokens=5_000_000, quota_cost_usd=12.5, quota_period="day",
        ),
    )  # fmt: skip
    assert await store.create_account(later) == later
    await store.create_account(full)

    assert await store.get_account(full.id) == full
    assert await store.get_account(later.id) == later
    assert await store.get_account("acct_missing") is None
    assert await store.list_accounts() == [full, later]  # oldest first


async def test_account_disable_and_enable(store: Store) -> None:
    account = await store.create_account(make_account())
    disabled = dataclasses.replace(
        account, status="inactive", name="renamed", limits=Limits(rpm=10)
    )
    assert await store.update_account(disabled) == disabled
    assert await store.get_account(account.id) == disabled
    await store.update_account(dataclasses.replace(disabled, status="active"))
    got = await store.get_account(account.id)
    assert got is not None and got.status == "active" and got.limits.rpm == 10


async def test_duplicate_account_is_refused(store: Store) -> None:
    account = await store.create_account(make_account())
    with pytest.raises(ValueError):
        await store.create_account(dataclasses.replace(account, name="other"))
    assert await store.get_account(account.id) == account


async def test_unknown_ids_raise_not_found(store: Store) -> None:
    ghost = make_account()
    with pytest.raises(NotFound):
        await store.update_account(ghost)
    with pytest.raises(NotFound):
        await store.create_key(make_key(ghost))  # its account does not exist
    real = await store.create_account(make_account())
    with pytest.raises(NotFound):
        await store.update_key(make_key(real))
    key = await store.create_key(make_key(real))
    with pytest.raises(NotFound):
        await store.update_key(dataclasses.replace(key, account_id=ghost.id))
    assert await store.get_account(ghost.id) is None
    assert await store.get_key(key.id) == key
    assert await store.list_keys() == [key]


# keys


async def test_key_create_get_and_list(store: Store) -> None:
    a = await store.create_account(make_account("a"))
    b = await store.create_account(make_account("b"))
    a1 = await store.create_key(make_key(a, created_at=1.0))
    b1 = await store.create_key(make_key(b, created_at=2.0))
    a2 = await store.create_key(make_key(a, created_at=3.0))

    assert await store.get_key(a1.id) == a1
    assert await store.get_key("key_missing") is None
    assert await store.get_key_by_hash(b1.secret_hash) == b1
    assert await store.get_key_by_hash(hash_secret(new_secret())) is None
    assert await store.list_keys(a.id) == [a1, a2]
    assert await store.list_keys(b.id) == [b1]
    assert await store.list_keys("acct_missing") == []
    assert await store.list_keys() == [a1, b1, a2]


async def test_duplicate_secret_hash_is_refused(store: Store) -> None:
    account = await store.create_account(make_account())
    key = await store.create_key(make_key(account))
    twin = dataclasses.replace(make_key(account), secret_hash=key.secret_hash)
    with pytest.raises(ValueError):
        await store.create_key(twin)
    assert await store.get_key(twin.id) is None
    assert await store.get_key_by_hash(key.secret_hash) == key


async def test_revoke_key(store: Store) -> None:
    account = await store.create_account(make_account())
    key = await store.create_key(make_key(account))
    revoked = dataclasses.replace(key, revoked_at=1_700_000_123.5)
    assert await store.update_key(revoked) == revoked
    assert await store.get_key_by_hash(key.secret_hash) == revoked


async def test_rotate_key_replaces_hash_and_prefix(store: Store) -> None:
    account = await store.create_account(make_account())
    key = await store.create_key(make_key(account))
    secret = new_secret()
    rotated = dataclasses.replace(
        key, secret_hash=hash_secret(secret), prefix=display_prefix(secret)
    )
    await store.update_key(rotated)
    assert await store.get_key_by_hash(key.secret_hash) is None
    assert await store.get_key_by_hash(rotated.secret_hash) == rotated
    assert await store.get_key(key.id) == rotated
    assert await store.list_keys(account.id) == [rotated]


async def test_rotate_onto_another_keys_hash_is_refused(store: Store) -> None:
    account = await store.create_account(make_account())
    one = await store.create_key(make_key(account))
    two = await store.create_key(make_key(account))
    with pytest.raises(ValueError):
        await store.update_key(dataclasses.replace(two, secret_hash=one.secret_hash))
    assert await store.get_key_by_hash(one.secret_hash) == one
    assert await store.get_key_by_hash(two.secret_hash) == two


async def test_touch_keys(store: Store) -> None:
    account = await store.create_account(make_account())
    one = await store.create_key(make_key(account))
    two = await store.create_key(make_key(account))
    untouched = await store.create_key(make_key(account))

    await store.touch_keys({one.id: 1_700_000_100.5, two.id: 1_700_000_200.0, "key_gone": 5.0})
    await store.touch_keys({one.id: 1_700_000_050.0})  # an older, late flush
    await store.touch_keys({})

    got_one, got_two = await store.get_key(one.id), await store.get_key(two.id)
    assert got_one is not None and got_one.last_used_at == 1_700_000_100.5
    assert got_two is not None and got_two.last_used_at == 1_700_000_200.0
    assert await store.get_key(untouched.id) == untouched
    assert await store.get_key("key_gone") is None
    assert len(await store.list_keys()) == 3


async def test_allowed_models_round_trip(store: Store) -> None:
    account = await store.create_account(make_account())
    models = ("gpt-4o*", "anthropic/claude-3-[hs]*", "llama3:8b", 'odd "quoted", name é')
    key = await store.create_key(dataclasses.replace(make_key(account), allowed_models=models))
    got = await store.get_key(key.id)
    assert got is not None and got.allowed_models == models
    assert got == key
    cleared = dataclasses.replace(key, allowed_models=())
    await store.update_key(cleared)
    assert await store.get_key(key.id) == cleared


async def test_error_format_round_trip(store: Store) -> None:
    account = await store.create_account(make_account())
    key = await store.create_key(dataclasses.replace(make_key(account), error_format="openai"))
    got = await store.get_key(key.id)
    assert got is not None and got.error_format == "openai" and got == key
    assert (await store.get_key_by_hash(key.secret_hash)) == key
    back = dataclasses.replace(key, error_format=None)
    await store.update_key(back)
    assert await store.get_key(key.id) == back


async def test_none_and_zero_limits_stay_distinct(store: Store) -> None:
    zeros = dataclasses.replace(
        make_account("zeros"),
        limits=Limits(rpm=0, rpd=0, tpm=0, concurrency=0, quota_tokens=0, quota_cost_usd=0.0),
    )
    nones = make_account("nones")
    await store.create_account(zeros)
    await store.create_account(nones)
    assert await store.get_account(zeros.id) == zeros
    assert await store.get_account(nones.id) == nones

    zero_key = dataclasses.replace(
        make_key(zeros), limits=RateLimits(rpm=0, rpd=0, tpm=0, concurrency=0), expires_at=0.0
    )
    none_key = make_key(nones)
    await store.create_key(zero_key)
    await store.create_key(none_key)
    assert await store.get_key(zero_key.id) == zero_key
    assert await store.get_key(none_key.id) == none_key

    # And back: updating 0 -> None must clear, not keep a stale 0.
    zero_key_limits = msgspec.structs.replace(zero_key.limits, rpm=None)
    await store.update_key(dataclasses.replace(zero_key, limits=zero_key_limits, expires_at=None))
    got = await store.get_key(zero_key.id)
    assert got is not None and got.limits.rpm is None and got.expires_at is None
    assert got.limits.tpm == 0
    zeros_limits = msgspec.structs.replace(zeros.limits, quota_tokens=None)
    await store.update_account(dataclasses.replace(zeros, limits=zeros_limits))
    got_account = await store.get_account(zeros.id)
    assert got_account is not None
    assert got_account.limits.quota_tokens is None and got_account.limits.quota_cost_usd == 0.0


# usage ledger


async def test_record_usage_aggregates_per_day_account_key_model(store: Store) -> None:
    ev = UsageEvent
    await store.record_usage([
        ev(ts(10, 0, 0, 0), "acct_a", "key_a", "echo", 10, 5, 0.5),
        ev(ts(10, 23, 59, 59), "acct_a", "key_a", "echo", 1, 2, 0.25),
        ev(ts(10, 9), "acct_a", "key_a", "gpt-4o", 100, 50, 1.0),
        ev(ts(10, 9), "acct_a", "key_b", "echo", 7, 0, 0.0),
    ])  # fmt: skip
    await store.record_usage([
        ev(ts(10, 18), "acct_a", "key_a", "echo", 4, 4, 0.125),  # same group, next batch
        ev(ts(11, 0, 0, 0), "acct_a", "key_a", "echo", 3, 3, 0.0625),  # UTC midnight
        ev(ts(11, 8), "acct_b", "key_c", "echo", 1, 1, 0.0),
    ])  # fmt: skip
    await store.record_usage([])

    assert await store.query_usage() == [
        UsageRow("2024-03-10", "acct_a", "key_a", "echo", 3, 15, 11, 0.875),
        UsageRow("2024-03-10", "acct_a", "key_a", "gpt-4o", 1, 100, 50, 1.0),
        UsageRow("2024-03-10", "acct_a", "key_b", "echo", 1, 7, 0, 0.0),
        UsageRow("2024-03-11", "acct_a", "key_a", "echo", 1, 3, 3, 0.0625),
        UsageRow("2024-03-11", "acct_b", "key_c", "echo", 1, 1, 1, 0.0),
    ]


async def test_query_usage_filters(store: Store) -> None:
    ev = UsageEvent
    await store.record_usage([
        ev(ts(9), "acct_a", "key_a", "echo", 1, 1, 0.0),
        ev(ts(10), "acct_a", "key_b", "echo", 2, 2, 0.0),
        ev(ts(11), "acct_a", "key_a", "echo", 3, 3, 0.0),
        ev(ts(11), "acct_b", "key_c", "echo", 4, 4, 0.0),
    ])  # fmt: skip

    def prompts(rows: list[UsageRow]) -> list[int]:
        return [r.prompt_tokens for r in rows]

    assert prompts(await store.query_usage(account_id="acct_a")) == [1, 2, 3]
    assert prompts(await store.query_usage(account_id="acct_b")) == [4]
    assert prompts(await store.query_usage(key_id="key_a")) == [1, 3]
    assert prompts(await store.query_usage(since_day="2024-03-10")) == [2, 3, 4]
    assert prompts(await store.query_usage(since_day="2024-03-11")) == [3, 4]
    assert prompts(await store.query_usage(since_day="2024-03-12")) == []
    assert prompts(await store.query_usage("acct_a", "key_a", "2024-03-10")) == [3]
    assert await store.query_usage(account_id="acct_a", key_id="key_c") == []
    assert await store.query_usage(account_id="acct_missing") == []


async def test_concurrent_batches_from_two_stores_sum_exactly(
    store: Store, backend: Backend
) -> None:
    other = await backend.open()  # a second router process on the same state
    try:
        batches = [
            [
                UsageEvent(ts(10 + (b + i) % 2), "acct_a", f"key_{i % 3}", "echo", b + i, i, 0.125)
                for i in range(20)
            ]
            for b in range(40)
        ]
        await asyncio.gather(
            *((store if n % 2 else other).record_usage(batch) for n, batch in enumerate(batches))
        )
    finally:
        await other.close()

    rows = await store.query_usage()
    events = [e for batch in batches for e in batch]
    assert sum(r.requests for r in rows) == len(events) == 800
    assert sum(r.prompt_tokens for r in rows) == sum(e.prompt_tokens for e in events)
    assert sum(r.completion_tokens for r in rows) == sum(e.completion_tokens for e in events)
    assert sum(r.cost_usd for r in rows) == 100.0  # 800 x 1/8: exact in binary
    for row in rows:
        group = [
            e for e in events
            if (datetime.fromtimestamp(e.ts, UTC).strftime("%Y-%m-%d"), e.key_id)
            == (row.day, row.key_id)
        ]  # fmt: skip
        assert row.requests == len(group)
        assert row.prompt_tokens == sum(e.prompt_tokens for e in group)
    assert len(rows) == 6  # 2 days x 3 keys


async def test_a_usage_batch_id_is_applied_once(store: Store, backend: Backend) -> None:
    ev = UsageEvent
    batch = [
        ev(ts(10, 9), "acct_a", "key_a", "echo", 10, 5, 0.5),
        ev(ts(11, 9), "acct_a", "key_a", "echo", 1, 2, 0.25),  # a batch spanning two days
    ]
    await store.record_usage(batch, batch_id="batch-1")
    await store.record_usage(batch, batch_id="batch-1")  # a retry of a committed write
    other = await backend.open()  # or another process retrying it at the same moment
    try:
        await asyncio.gather(
            store.record_usage(batch, batch_id="batch-1"),
            other.record_usage(batch, batch_id="batch-1"),
        )
    finally:
        await other.close()
    once = [
        UsageRow("2024-03-10", "acct_a", "key_a", "echo", 1, 10, 5, 0.5),
        UsageRow("2024-03-11", "acct_a", "key_a", "echo", 1, 1, 2, 0.25),
    ]
    assert await store.query_usage() == once
    await store.record_usage(batch, batch_id="batch-2")  # a new batch with the same events
    await store.record_usage(batch)  # no id: always applied
    assert [r.requests for r in await store.query_usage()] == [3, 3]


async def test_two_stores_see_each_others_keys_and_revocations(
    store: Store, backend: Backend
) -> None:
    other = await backend.open()
    try:
        account = await store.create_account(make_account())
        key = await store.create_key(make_key(account))
        assert await other.get_key_by_hash(key.secret_hash) == key
        revoked = await other.update_key(dataclasses.replace(key, revoked_at=1_700_000_999.0))
        assert await store.get_key_by_hash(key.secret_hash) == revoked
        await other.update_account(dataclasses.replace(account, status="inactive"))
        got = await store.get_account(account.id)
        assert got is not None and got.status == "inactive"
    finally:
        await other.close()


async def test_secret_is_never_stored_only_its_hash(store: Store, backend: Backend) -> None:
    secret = new_secret()
    account = await store.create_account(make_account())
    key = await store.create_key(make_key(account, secret))
    await store.touch_keys({key.id: 1_700_000_001.0})
    await store.record_usage([UsageEvent(ts(10), account.id, key.id, "echo", 1, 1, 0.0)])
    rotated_secret = new_secret()
    await store.update_key(dataclasses.replace(key, secret_hash=hash_secret(rotated_secret)))

    stored = await backend.stored_text()
    assert hash_secret(rotated_secret) in stored  # the scan does see the store's data
    assert key.id in stored
    assert secret not in stored and rotated_secret not in stored
    # Nor the secret's random part alone (the display prefix is its first 6 chars).
    assert secret[len("vr-") + 6 :] not in stored


# backend specifics that the contract relies on


async def test_factory_rejects_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgres"):
        await open_store("postgres", sqlite_path=str(tmp_path / "x.db"), redis_url="")


async def test_sqlite_runs_no_sql_on_the_event_loop_thread(tmp_path: Path) -> None:
    threads: set[int] = set()

    def on_statement(_sql: str) -> None:
        threads.add(threading.get_ident())

    store = SqliteStore(str(tmp_path / "store.db"), trace=on_statement)
    await store.open()
    try:
        account = await store.create_account(make_account())
        key = await store.create_key(make_key(account))
        await asyncio.gather(
            store.get_key_by_hash(key.secret_hash),
            store.list_accounts(),
            store.touch_keys({key.id: 1.0}),
            store.record_usage([UsageEvent(ts(10), account.id, key.id, "echo", 1, 1, 0.0)]),
            store.query_usage(),
        )
    finally:
        await store.close()
    assert threads, "the trace hook saw no SQL at all"
    assert threading.get_ident() not in threads
    assert len(threads) == 1  # one dedicated worker thread, one connection
