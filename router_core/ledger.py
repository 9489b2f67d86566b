"""The usage ledger's write side: batched off the request path, flushed on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from collections.abc import Callable

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


class UsageLedger:
    """Collects usage events in memory and writes them in batches."""

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
            if not self._events and not self._touched:
                return
            events, self._events = self._events, []
            touched, self._touched = self._touched, {}
            try:
                if events:
                    await self._store.record_usage(events)
                    events = []  # written: never requeue these
                if touched:
                    await self._store.touch_keys(touched)
            except asyncio.CancelledError:
                self._events[:0] = events
                raise
            except store_errors() as exc:  # the store is down: requeue, never lose counts
                self._events[:0] = events
                for k, v in touched.items():
                    self._touched.setdefault(k, v)
                log.error("usage_flush_failed", error=str(exc), queued=len(self._events))
                if self._on_error is not None:
                    self._on_error("ledger_flush", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
