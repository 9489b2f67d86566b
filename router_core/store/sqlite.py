"""The embedded Store: one SQLite file, all SQL on one dedicated worker thread
(``sqlite_worker.py``: the thread, the connection, transactions).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import TypeVar, cast

import msgspec

from router_core.limits.base import LIMIT_FIELDS, RATE_FIELDS, Limits, RateLimits
from router_core.store.base import (
    BATCH_ID_TTL_S,
    Account,
    AccountStatus,
    ApiKey,
    DashboardSession,
    Member,
    NotFound,
    UsageEvent,
    UsageRow,
)
from router_core.store.migrations import migrate
from router_core.store.sqlite_worker import SqliteWorker, Transaction

L = TypeVar("L", bound=RateLimits)

# The limit columns are named after the Limits fields (migrations.py creates them).
_ACCOUNT_COLUMNS = "id, name, status, created_at, " + ", ".join(LIMIT_FIELDS)
_KEY_COLUMNS = (
    "id, account_id, name, prefix, secret_hash, created_at, expires_at, revoked_at,"
    " last_used_at, " + ", ".join(RATE_FIELDS) + ", allowed_models, error_format"
)
# Written in the order of _account_params / _key_params: every column but the id, then it.
_ACCOUNT_WRITE = ("name", "status", "created_at", *LIMIT_FIELDS)
_KEY_WRITE = (
    "account_id", "name", "prefix", "secret_hash", "created_at", "expires_at",
    "revoked_at", "last_used_at", *RATE_FIELDS, "allowed_models", "error_format",
)  # fmt: skip


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" * (len(columns) + 1))
    return f"INSERT INTO {table} ({', '.join(columns)}, id) VALUES ({marks})"


def _update(table: str, columns: tuple[str, ...]) -> str:
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


_INSERT_ACCOUNT = _insert("accounts", _ACCOUNT_WRITE)
_UPDATE_ACCOUNT = _update("accounts", _ACCOUNT_WRITE)
_INSERT_KEY = _insert("api_keys", _KEY_WRITE)
_UPDATE_KEY = _update("api_keys", _KEY_WRITE)
_MEMBER_COLUMNS = "id, account_id, email, password_hash, created_at, last_login_at"
_SESSION_COLUMNS = "id_hash, member_id, account_id, csrf_token, created_at, expires_at"

# Day is computed by SQLite so a batch is one executemany; 'unixepoch' dates are UTC.
_UPSERT_USAGE = """
INSERT INTO usage_daily
    (day, account_id, key_id, model, requests, prompt_tokens, completion_tokens, cost_usd)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (day, account_id, key_id, model) DO UPDATE SET
    requests = requests + excluded.requests,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens,
    cost_usd = cost_usd + excluded.cost_usd
"""


_DailyRow = tuple[str, str, str, str, int, int, int, float]


def _daily_rows(events: Sequence[UsageEvent]) -> list[_DailyRow]:
    """A batch summed per (UTC day, account, key, model) before it reaches SQLite: a
    busy router's batch of thousands of events is a handful of upserts, not one each."""
    rows: dict[tuple[str, str, str, str], _DailyRow] = {}
    day_of: dict[int, str] = {}
    for e in events:
        second = int(e.ts)
        day = day_of.get(second)
        if day is None:
            day = day_of[second] = time.strftime("%Y-%m-%d", time.gmtime(second))
        key = (day, e.account_id, e.key_id, e.model)
        row = rows.get(key)
        if row is None:
            rows[key] = (*key, 1, e.prompt_tokens, e.completion_tokens, e.cost_usd)
        else:
            rows[key] = (
                *key,
                row[4] + 1,
                row[5] + e.prompt_tokens,
                row[6] + e.completion_tokens,
                row[7] + e.cost_usd,
            )
    return list(rows.values())


def _status(value: str) -> AccountStatus:
    if value in ("active", "inactive"):
        return cast(AccountStatus, value)
    raise ValueError(f"unknown account status in store: {value!r}")


def _limits(row: sqlite3.Row, typ: type[L]) -> L:
    try:
        return msgspec.convert({name: row[name] for name in typ.__struct_fields__}, typ)
    except msgspec.ValidationError as exc:
        raise ValueError(f"bad limits in store: {exc}") from exc


def _account(row: sqlite3.Row) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        status=_status(row["status"]),
        created_at=row["created_at"],
        limits=_limits(row, Limits),
    )


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        account_id=row["account_id"],
        name=row["name"],
        prefix=row["prefix"],
        secret_hash=row["secret_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        limits=_limits(row, RateLimits),
        allowed_models=tuple(json.loads(row["allowed_models"])),
        error_format=row["error_format"],
    )


def _member(row: sqlite3.Row) -> Member:
    return Member(*tuple(row))


def _member_params(m: Member) -> tuple[object, ...]:
    return (m.account_id, m.email, m.password_hash, m.created_at, m.last_login_at, m.id)


def _account_params(a: Account) -> tuple[object, ...]:
    return (a.name, a.status, a.created_at, *msgspec.structs.astuple(a.limits), a.id)


def _key_params(k: ApiKey) -> tuple[object, ...]:
    return (
        k.account_id, k.name, k.prefix, k.secret_hash, k.created_at, k.expires_at,
        k.revoked_at, k.last_used_at, *msgspec.structs.astuple(k.limits),
        json.dumps(list(k.allowed_models)), k.error_format, k.id,
    )  # fmt: skip


def _require_account(conn: sqlite3.Connection, account_id: str) -> None:
    if conn.execute("SELECT 1 FROM accounts WHERE id = ?", (account_id,)).fetchone() is None:
        raise NotFound(f"account {account_id!r}")


class SqliteStore(SqliteWorker):
    """Store on a local SQLite file (WAL, synchronous=NORMAL); one process only.

    ``trace`` is called with every SQL statement, on the thread that runs it (for
    debugging, and so tests can prove the event loop thread never runs SQL).
    """

    thread_name = "viberouter-sqlite"

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)

    # accounts

    async def create_account(self, account: Account) -> Account:
        """Insert a new account; raises ValueError if the id exists."""

        def op(conn: sqlite3.Connection) -> None:
            try:
                with Transaction(conn):
                    conn.execute(
                        _INSERT_ACCOUNT,
                        _account_params(account),
                    )
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"account {account.id!r} already exists") from exc

        await self._run(op)
        return account

    async def get_account(self, account_id: str) -> Account | None:
        """The account, or None."""

        def op(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
            ).fetchone()
            return None if row is None else _account(row)

        return await self._run(op)

    async def list_accounts(self) -> list[Account]:
        """All accounts, oldest first."""

        def op(conn: sqlite3.Connection) -> list[Account]:
            rows = conn.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY created_at, id"
            ).fetchall()
            return [_account(r) for r in rows]

        return await self._run(op)

    async def update_account(self, account: Account) -> Account:
        """Replace an existing account's fields; raises NotFound."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                cur = conn.execute(
                    _UPDATE_ACCOUNT,
                    _account_params(account),
                )
                if cur.rowcount == 0:
                    raise NotFound(f"account {account.id!r}")

        await self._run(op)
        return account

    # keys

    async def create_key(self, key: ApiKey) -> ApiKey:
        """Insert a new key; NotFound for an unknown account, ValueError for a
        duplicate id or secret hash."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                _require_account(conn, key.account_id)
                try:
                    conn.execute(
                        _INSERT_KEY,
                        _key_params(key),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"key {key.id!r} or its hash already exists") from exc

        await self._run(op)
        return key

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key, or None."""

        def op(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE id = ?", (key_id,)
            ).fetchone()
            return None if row is None else _key(row)

        return await self._run(op)

    async def get_key_by_hash(self, secret_hash: str) -> ApiKey | None:
        """The key whose secret hashes to ``secret_hash``, or None."""

        def op(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE secret_hash = ?", (secret_hash,)
            ).fetchone()
            return None if row is None else _key(row)

        return await self._run(op)

    async def list_keys(self, account_id: str | None = None) -> list[ApiKey]:
        """All keys, or one account's, oldest first."""

        def op(conn: sqlite3.Connection) -> list[ApiKey]:
            if account_id is None:
                rows = conn.execute(
                    f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                ).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE account_id = ?"
                    " ORDER BY created_at, id",
                    (account_id,),
                ).fetchall()
            return [_key(r) for r in rows]

        return await self._run(op)

    async def update_key(self, key: ApiKey) -> ApiKey:
        """Replace an existing key's fields; NotFound for an unknown key or account, or
        for un-revoking a revoked key; ValueError if a rotated secret hash belongs to
        another key."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                _require_account(conn, key.account_id)
                row = conn.execute(
                    "SELECT revoked_at FROM api_keys WHERE id = ?", (key.id,)
                ).fetchone()
                if row is not None and row[0] is not None and key.revoked_at is None:
                    # Revocation is final: a write built from an earlier read (a rotate
                    # racing a revoke) must not bring the key back.
                    raise NotFound(f"key {key.id!r} is revoked")
                try:
                    cur = conn.execute(
                        _UPDATE_KEY,
                        _key_params(key),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError("secret hash belongs to another key") from exc
                if cur.rowcount == 0:
                    raise NotFound(f"key {key.id!r}")

        await self._run(op)
        return key

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        """Batch-update last_used_at; never moves it backwards; unknown ids are ignored."""
        if not last_used:
            return
        # max(): batches from several flushers may arrive out of order.
        params = [(ts, ts, key_id) for key_id, ts in last_used.items()]

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                conn.executemany(
                    "UPDATE api_keys SET last_used_at = CASE"
                    " WHEN last_used_at IS NULL OR last_used_at < ? THEN ?"
                    " ELSE last_used_at END WHERE id = ?",
                    params,
                )

        await self._run(op)

    # usage ledger

    async def record_usage(
        self, events: Sequence[UsageEvent], *, batch_id: str | None = None
    ) -> None:
        """Add a batch to the per-day aggregates in one transaction; a ``batch_id``
        already applied (within BATCH_ID_TTL_S) makes this a no-op."""
        if not events:
            return
        params = _daily_rows(events)

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                if batch_id is not None:
                    now = time.time()
                    conn.execute(
                        "DELETE FROM usage_batches WHERE written_at < ?", (now - BATCH_ID_TTL_S,)
                    )
                    applied = conn.execute(
                        "INSERT OR IGNORE INTO usage_batches (id, written_at) VALUES (?, ?)",
                        (batch_id, now),
                    )
                    if applied.rowcount == 0:
                        return  # this batch committed before: counting it again would double it
                conn.executemany(_UPSERT_USAGE, params)

        await self._run(op)

    async def query_usage(
        self,
        account_id: str | None = None,
        key_id: str | None = None,
        since_day: str | None = None,
    ) -> list[UsageRow]:
        """Aggregated rows matching every given filter (``since_day`` inclusive),
        ordered by day, account, key, model."""
        where: list[str] = []
        args: list[str] = []
        for column, value in (("account_id", account_id), ("key_id", key_id)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since_day is not None:
            where.append("day >= ?")
            args.append(since_day)
        sql = (
            "SELECT day, account_id, key_id, model, requests, prompt_tokens,"
            " completion_tokens, cost_usd FROM usage_daily"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY day, account_id, key_id, model"
        )

        def op(conn: sqlite3.Connection) -> list[UsageRow]:
            return [UsageRow(*tuple(r)) for r in conn.execute(sql, args).fetchall()]

        return await self._run(op)

    # dashboard members

    async def create_member(self, member: Member) -> Member:
        """Insert a member; NotFound for an unknown account, ValueError if the id or
        email is taken."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                _require_account(conn, member.account_id)
                try:
                    conn.execute(
                        "INSERT INTO members (account_id, email, password_hash, created_at,"
                        " last_login_at, id) VALUES (?, ?, ?, ?, ?, ?)",
                        _member_params(member),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"member {member.email!r} already exists") from exc

        await self._run(op)
        return member

    async def get_member(self, member_id: str) -> Member | None:
        """The member, or None."""
        return await self._one_member("id", member_id)

    async def get_member_by_email(self, email: str) -> Member | None:
        """The member with this (lower-cased) email, or None."""
        return await self._one_member("email", email)

    async def _one_member(self, column: str, value: str) -> Member | None:
        sql = f"SELECT {_MEMBER_COLUMNS} FROM members WHERE {column} = ?"

        def op(conn: sqlite3.Connection) -> Member | None:
            row = conn.execute(sql, (value,)).fetchone()
            return None if row is None else _member(row)

        return await self._run(op)

    async def list_members(self, account_id: str | None = None) -> list[Member]:
        """All members, or one account's, oldest first."""
        where, args = ("", ()) if account_id is None else (" WHERE account_id = ?", (account_id,))
        sql = f"SELECT {_MEMBER_COLUMNS} FROM members{where} ORDER BY created_at, id"

        def op(conn: sqlite3.Connection) -> list[Member]:
            return [_member(r) for r in conn.execute(sql, args).fetchall()]

        return await self._run(op)

    async def update_member(self, member: Member) -> Member:
        """Replace a member's fields; NotFound, or ValueError if the email is taken."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                _require_account(conn, member.account_id)
                try:
                    cur = conn.execute(
                        "UPDATE members SET account_id = ?, email = ?, password_hash = ?,"
                        " created_at = ?, last_login_at = ? WHERE id = ?",
                        _member_params(member),
                    )
                except sqlite3.IntegrityError as exc:
                    raise ValueError(f"member {member.email!r} already exists") from exc
                if cur.rowcount == 0:
                    raise NotFound(f"member {member.id!r}")

        await self._run(op)
        return member

    async def delete_member(self, member_id: str) -> None:
        """Remove a member and every session of theirs; raises NotFound."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                conn.execute("DELETE FROM dashboard_sessions WHERE member_id = ?", (member_id,))
                cur = conn.execute("DELETE FROM members WHERE id = ?", (member_id,))
                if cur.rowcount == 0:
                    raise NotFound(f"member {member_id!r}")

        await self._run(op)

    # dashboard sessions

    async def create_session(self, session: DashboardSession) -> None:
        """Store a session and drop expired ones (sessions are few; the index makes it cheap)."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                conn.execute(
                    "DELETE FROM dashboard_sessions WHERE expires_at <= ?", (session.created_at,)
                )
                conn.execute(
                    f"INSERT INTO dashboard_sessions ({_SESSION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        session.id_hash, session.member_id, session.account_id,
                        session.csrf_token, session.created_at, session.expires_at,
                    ),
                )  # fmt: skip

        await self._run(op)

    async def get_session(self, id_hash: str, now: float) -> DashboardSession | None:
        """The session unless unknown or expired at ``now``."""

        def op(conn: sqlite3.Connection) -> DashboardSession | None:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM dashboard_sessions"
                " WHERE id_hash = ? AND expires_at > ?",
                (id_hash, now),
            ).fetchone()
            return None if row is None else DashboardSession(*tuple(row))

        return await self._run(op)

    async def delete_session(self, id_hash: str) -> None:
        """Forget a session; unknown ids are ignored."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                conn.execute("DELETE FROM dashboard_sessions WHERE id_hash = ?", (id_hash,))

        await self._run(op)

    async def delete_member_sessions(self, member_id: str) -> int:
        """End every session of a member; how many ended."""

        def op(conn: sqlite3.Connection) -> int:
            with Transaction(conn):
                cur = conn.execute(
                    "DELETE FROM dashboard_sessions WHERE member_id = ?", (member_id,)
                )
                return int(cur.rowcount)

        return await self._run(op)

    # sign-in throttling

    async def login_failures(self, subject: str) -> tuple[int, float]:
        """``(failed attempts, time of the last one)``; ``(0, 0.0)`` if none."""

        def op(conn: sqlite3.Connection) -> tuple[int, float]:
            row = conn.execute(
                "SELECT failures, last_at FROM login_failures WHERE subject = ?", (subject,)
            ).fetchone()
            return (0, 0.0) if row is None else (int(row[0]), float(row[1]))

        return await self._run(op)

    async def add_login_failure(self, subject: str, now: float, forget_after: float) -> int:
        """Count one failed attempt; a subject idle for ``forget_after`` s restarts at 1."""

        def op(conn: sqlite3.Connection) -> int:
            with Transaction(conn):
                conn.execute("DELETE FROM login_failures WHERE last_at <= ?", (now - forget_after,))
                row = conn.execute(
                    "INSERT INTO login_failures (subject, failures, last_at) VALUES (?, 1, ?)"
                    " ON CONFLICT (subject) DO UPDATE SET failures = failures + 1,"
                    " last_at = excluded.last_at RETURNING failures",
                    (subject, now),
                ).fetchone()
                return int(row[0])

        return await self._run(op)

    async def clear_login_failures(self, subject: str) -> None:
        """Forget a subject's failures."""

        def op(conn: sqlite3.Connection) -> None:
            with Transaction(conn):
                conn.execute("DELETE FROM login_failures WHERE subject = ?", (subject,))

        await self._run(op)
