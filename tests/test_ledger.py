"""The usage ledger: batched writes, each batch written exactly once, over a fake
store and over the real ones: a flush cancelled while its write is stuck in the
backend (SQLite's write lock held by another connection; redis-server frozen with
SIGSTOP) neither loses the batch nor writes it twice once the backend moves."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from router_core.ledger import UsageLedger
from router_core.store.base import Store, UsageEvent
from router_core.store.factory import open_store
from tests.services import RedisServer


class _FlakyTouchStore:
    """A store whose usage write works and whose key touch fails once."""

    def __init__(self) -> None:
        self.recorded: list[UsageEvent] = []
        self.touch_failures = 1

    async def record_usage(self, events: list[UsageEvent], *, batch_id: str | None = None) -> None:
        self.recorded.extend(events)

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        if self.touch_failures:
            self.touch_failures -= 1
            raise OSError("store down")


async def test_ledger_never_writes_a_batch_twice() -> None:
    store = _FlakyTouchStore()
    ledger = UsageLedger(store)  # type: ignore[arg-type]
    ledger.record(UsageEvent(1.0, "acct", "key", "m", 1, 2, 0.0))
    await ledger.flush()  # usage written, touch failed
    await ledger.flush()  # touch retried
    assert len(store.recorded) == 1


EVENTS = [UsageEvent(time.time(), "acct_a", "key_a", "echo", 10, 5, 0.125) for _ in range(50)]


@contextlib.contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold the database's write lock from another connection, as another process would."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("COMMIT")
        conn.close()


@contextlib.contextmanager
def frozen(server: RedisServer) -> Iterator[None]:
    """redis-server stopped with SIGSTOP: it accepts bytes but answers nothing."""
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, RedisServer | None]:
    """(kind, SQLite path or Redis URL, the redis-server to freeze)."""
    if request.param == "sqlite":
        return "embedded", str(tmp_path / "ledger.db"), None
    return "redis", request.getfixturevalue("redis_url"), request.getfixturevalue("redis_proc")


@pytest.fixture
async def stuck(
    backend: tuple[str, str, RedisServer | None],
) -> AsyncIterator[tuple[Store, contextlib.AbstractContextManager[None]]]:
    """A real store, and a way to make its next write hang in the backend."""
    kind, where, server = backend
    hold: contextlib.AbstractContextManager[None]
    if server is None:
        store = await open_store(kind, sqlite_path=where, redis_url="")
        hold = sqlite_write_lock(Path(where))
    else:
        store = await open_store(kind, sqlite_path="", redis_url=where)
        hold = frozen(server)
    try:
        yield store, hold
    finally:
        await store.close()


async def totals(store: Store) -> tuple[int, int, float]:
    rows = await store.query_usage()
    return (
        sum(r.requests for r in rows),
        sum(r.prompt_tokens for r in rows),
        sum(r.cost_usd for r in rows),
    )


async def test_a_cancelled_flush_is_written_exactly_once(
    stuck: tuple[Store, contextlib.AbstractContextManager[None]],
) -> None:
    store, hold = stuck
    ledger = UsageLedger(store)
    for e in EVENTS:
        ledger.record(e)
    with hold:
        flushing = asyncio.create_task(ledger.flush())
        await asyncio.sleep(0.3)  # the write is in the backend, waiting
        assert not flushing.done()
        flushing.cancel()  # shutdown, or a client leaving a request that flushed
        with contextlib.suppress(asyncio.CancelledError):
            await flushing
        assert ledger.queued == 50  # not known to be written: kept
    # the backend moves again: the write that was under way commits, and the next
    # flush (the close) must not apply the same batch a second time
    await asyncio.wait_for(ledger.close(), 20)
    assert ledger.queued == 0
    assert await totals(store) == (50, 500, 6.25)


async def test_close_waits_for_a_timed_flush_under_way(
    stuck: tuple[Store, contextlib.AbstractContextManager[None]],
) -> None:
    store, hold = stuck
    ledger = UsageLedger(store, interval=0.05)
    await ledger.start()
    with hold:
        for e in EVENTS:
            ledger.record(e)
        await asyncio.sleep(0.3)  # the timer's flush is stuck in the backend
        closing = asyncio.create_task(ledger.close())
        await asyncio.sleep(0.2)
        assert not closing.done()  # the close waits for that write, it does not redo it
    await asyncio.wait_for(closing, 20)
    assert await totals(store) == (50, 500, 6.25)
