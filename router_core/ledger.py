"""The usage ledger's write side: batched off the request path, flushed on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from router_core.store.base import Store, StoreUnavailable, UsageEvent

log = structlog.get_logger("viberouter.ledger")


def store_errors() -> tuple[type[BaseException], ...]:
    """What a store raises when its backend is unreachable or failing (redis-py's
    errors only when it is loaded: the embedded backend never imports it)."""
    errors: tuple[type[BaseException], ...] = (OSError, sqlite3.Error, StoreUnavailable)
    redis_exc = sys.modules.get("redis.exceptions")
    if redis_exc is not None:
        errors += (redis_exc.RedisError,)
    return errors


def new_batch_id() -> str:
    """A fresh batch id: unique, so a store can tell a retried batch from a new one."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class UsageBatch:
    """Events taken off the queue together; written under one id, at most once."""

    id: str
    events: tuple[UsageEvent, ...]


class UsageLedger:
    """Collects usage events in memory and writes them in batches, each exactly once.

    A batch gets its id when it leaves the queue and keeps it through every retry;
    the store applies an id once (SQLite: a row in ``usage_batches`` written in the
    same transaction; Redis: a marker key set in the same script), so a batch whose
    write did commit but was reported as failed or cancelled is not counted twice.
    A write runs as its own task: cancelling a flush (shutdown, a client leaving a
    request that flushed) does not abandon it, and the next flush waits for it
    before anything else is written.
    """

    def __init__(
        self,
        store: Store,
        interval: float = 1.0,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self._store = store
        self._on_error = on_error
        self._interval = interval
        self._events: list[UsageEvent] = []
        self._touched: dict[str, float] = {}
        #: Batches off the queue whose write is not known to have committed, oldest first.
        self._pending: deque[UsageBatch] = deque()
        self._writing: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(self, event: UsageEvent) -> None:
        """Queue one finished request (no I/O here)."""
        self._events.append(event)
        self._touched[event.key_id] = event.ts

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        """Write what is queued; on failure, keep it for the next try."""
        async with self._lock:
            if self._events:
                self._pending.append(UsageBatch(new_batch_id(), tuple(self._events)))
                self._events = []
            touched, self._touched = self._touched, {}
            try:
                while self._pending:
                    await self._write_oldest()
                if touched:
                    await self._store.touch_keys(touched)
                    touched = {}
            except store_errors() as exc:  # the store is down: keep it all, never lose counts
                log.error("usage_flush_failed", error=str(exc), queued=self.queued)
                if self._on_error is not None:
                    self._on_error("ledger_flush", exc)
            finally:
                for k, v in touched.items():
                    self._touched.setdefault(k, v)

    async def _write_oldest(self) -> None:
        batch = self._pending[0]
        if self._writing is None:
            self._writing = asyncio.create_task(
                self._store.record_usage(batch.events, batch_id=batch.id)
            )
        writing = self._writing
        try:
            # shield: cancelling this flush leaves the write running (a SQLite commit
            # on the worker thread cannot be stopped anyway); the next flush awaits it.
            await asyncio.shield(writing)
        finally:
            if writing.done():
                self._writing = None
        if self._pending and self._pending[0] is batch:
            self._pending.popleft()

    @property
    def queued(self) -> int:
        """Events not yet known to be written."""
        return len(self._events) + sum(len(b.events) for b in self._pending)

    async def close(self) -> None:
        """Stop the timer and write what is left (waiting for a write in progress)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
