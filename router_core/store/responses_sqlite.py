"""Stored responses in their own SQLite file (embedded state), SQL on one worker thread.

A file of its own keeps this optional, fast-growing data out of the accounts
database and its migrations; its two tables are created on open. Expired rows are
purged a bounded batch at a time on every write, so no timer is needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from router_core.store.responses_base import StoredResponse
from router_core.store.sqlite_worker import SqliteWorker, Transaction

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS responses (
        account_id   TEXT NOT NULL,
        id           TEXT NOT NULL,
        created_at   REAL NOT NULL,
        expires_at   REAL NOT NULL,
        response     BLOB NOT NULL,
        conversation BLOB NOT NULL,
        PRIMARY KEY (account_id, id)
    )""",
    "CREATE INDEX IF NOT EXISTS responses_expiry ON responses (expires_at)",
    """CREATE TABLE IF NOT EXISTS response_items (
        account_id  TEXT NOT NULL,
        item_id     TEXT NOT NULL,
        response_id TEXT NOT NULL,
        expires_at  REAL NOT NULL,
        item        BLOB NOT NULL,
        PRIMARY KEY (account_id, item_id)
    )""",
    "CREATE INDEX IF NOT EXISTS response_items_owner ON response_items (account_id, response_id)",
    "CREATE INDEX IF NOT EXISTS response_items_expiry ON response_items (expires_at)",
)
#: Expired rows deleted per write: bounded work on the write path.
PURGE_BATCH = 200


def _purge(conn: sqlite3.Connection, now: float) -> None:
    for table in ("responses", "response_items"):
        conn.execute(
            f"DELETE FROM {table} WHERE rowid IN "
            f"(SELECT rowid FROM {table} WHERE expires_at < ? LIMIT ?)",
            (now, PURGE_BATCH),
        )


class SqliteResponseStore(SqliteWorker):
    """ResponseStore on a local SQLite file (WAL); one process only, like SqliteStore."""

    thread_name = "viberouter-responses"

    def _prepare(self, conn: sqlite3.Connection) -> None:
        for statement in _SCHEMA:
            conn.execute(statement)

    async def put(self, record: StoredResponse) -> None:
        """Insert or replace the record and its items in one transaction."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                _purge(conn, record.created_at)
                conn.execute(
                    "INSERT OR REPLACE INTO responses (account_id, id, created_at, expires_at,"
                    " response, conversation) VALUES (?, ?, ?, ?, ?, ?)",
                    (record.account_id, record.id, record.created_at, record.expires_at,
                     record.response, record.conversation),
                )  # fmt: skip
                conn.executemany(
                    "INSERT OR REPLACE INTO response_items (account_id, item_id, response_id,"
                    " expires_at, item) VALUES (?, ?, ?, ?, ?)",
                    [
                        (record.account_id, item_id, record.id, record.expires_at, item)
                        for item_id, item in record.items.items()
                    ],
                )

        await self._run(op)

    async def get(self, account_id: str, response_id: str, now: float) -> StoredResponse | None:
        """The live record, or None."""

        def op(conn: sqlite3.Connection) -> StoredResponse | None:
            row = conn.execute(
                "SELECT created_at, expires_at, response, conversation FROM responses"
                " WHERE account_id = ? AND id = ? AND expires_at >= ?",
                (account_id, response_id, now),
            ).fetchone()
            if row is None:
                return None
            return StoredResponse(
                id=response_id, account_id=account_id, created_at=row[0], expires_at=row[1],
                response=bytes(row[2]), conversation=bytes(row[3]),
            )  # fmt: skip

        return await self._run(op)

    async def delete(self, account_id: str, response_id: str) -> bool:
        """Remove the record and its items."""

        def op(conn: sqlite3.Connection) -> bool:
            with Transaction(conn):
                cur = conn.execute(
                    "DELETE FROM responses WHERE account_id = ? AND id = ?",
                    (account_id, response_id),
                )
                conn.execute(
                    "DELETE FROM response_items WHERE account_id = ? AND response_id = ?",
                    (account_id, response_id),
                )
            return cur.rowcount > 0

        return await self._run(op)

    async def items(self, account_id: str, item_ids: Sequence[str], now: float) -> dict[str, bytes]:
        """The live items among ``item_ids``."""
        wanted = list(dict.fromkeys(item_ids))

        def op(conn: sqlite3.Connection) -> dict[str, bytes]:
            marks = ",".join("?" * len(wanted))
            rows = conn.execute(
                "SELECT item_id, item FROM response_items WHERE account_id = ?"
                f" AND expires_at >= ? AND item_id IN ({marks})",
                (account_id, now, *wanted),
            ).fetchall()
            return {row[0]: bytes(row[1]) for row in rows}

        return await self._run(op) if wanted else {}


__all__ = ["PURGE_BATCH", "SqliteResponseStore"]
