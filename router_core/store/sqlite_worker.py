"""A SQLite file on one dedicated worker thread: what both embedded stores build on.

sqlite3 blocks, so nothing here touches the database on the event loop. A single
worker thread owns the only connection (created in that thread, which
``check_same_thread`` then enforces) and runs every operation in turn; that also
serialises writers inside the process, so SQLite's own lock is never contended here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from router_core.store.base import StoreUnavailable

T = TypeVar("T")

_PRAGMAS = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
)


class Transaction:
    """``with Transaction(conn):`` — BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")


class SqliteWorker:
    """One SQLite file (WAL, synchronous=NORMAL), its connection owned by one worker
    thread. A subclass prepares the connection (``_prepare``: schema, settings) and
    runs its operations through ``_run``. ``trace``, if given, is called with every
    SQL statement, on the thread that runs it."""

    #: The worker thread's name (seen in thread dumps and profiles).
    thread_name = "viberouter-sqlite"

    def __init__(self, path: str, *, trace: Callable[[str], None] | None = None) -> None:
        self._path = path
        self._trace = trace
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Make the new connection ready (on the worker thread)."""

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None:
            raise StoreUnavailable(f"{type(self).__name__} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StoreUnavailable(f"{type(self).__name__} is not open")
        return fn(self._conn)

    def _connect(self) -> None:
        # Autocommit mode: every transaction is an explicit BEGIN IMMEDIATE
        # (Transaction), never one the sqlite3 module opens behind our back.
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            if self._trace is not None:
                conn.set_trace_callback(self._trace)
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def open(self) -> None:
        """Open (creating, or upgrading) the file."""
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.thread_name)
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._connect)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        self._executor = executor

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        executor.shutdown(wait=True)


__all__ = ["SqliteWorker", "Transaction"]
