"""Versioned schema for the SQLite store: ordered steps, applied in place.

The database's ``PRAGMA user_version`` is the number of steps applied. Steps are
append-only: a released step is never edited, a change is a new step, so every
file ever written by any release upgrades by running the steps it lacks.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; ``version`` is the user_version the file has after it."""

    version: int
    description: str
    statements: tuple[str, ...]


class SchemaTooNew(RuntimeError):
    """The file was written by a newer release; refusing beats silently misreading it."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "accounts, api keys and the daily usage ledger",
        (
            """CREATE TABLE accounts (
                id          TEXT PRIMARY KEY,
                name        TEXT NOT NULL,
                status      TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
                created_at  REAL NOT NULL,
                rpm         INTEGER,
                tpm         INTEGER,
                concurrency INTEGER
            )""",
            """CREATE TABLE api_keys (
                id             TEXT PRIMARY KEY,
                account_id     TEXT NOT NULL REFERENCES accounts (id),
                name           TEXT NOT NULL,
                prefix         TEXT NOT NULL,
                secret_hash    TEXT NOT NULL,
                created_at     REAL NOT NULL,
                expires_at     REAL,
                revoked_at     REAL,
                rpm            INTEGER,
                tpm            INTEGER,
                concurrency    INTEGER,
                allowed_models TEXT NOT NULL DEFAULT '[]'
            )""",
            "CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash)",
            "CREATE INDEX api_keys_account ON api_keys (account_id)",
            """CREATE TABLE usage_daily (
                day               TEXT NOT NULL,
                account_id        TEXT NOT NULL,
                key_id            TEXT NOT NULL,
                model             TEXT NOT NULL,
                requests          INTEGER NOT NULL DEFAULT 0,
                prompt_tokens     INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                cost_usd          REAL NOT NULL DEFAULT 0,
                PRIMARY KEY (day, account_id, key_id, model)
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        2,
        "daily request limits, account quotas, key last-used time",
        (
            "ALTER TABLE accounts ADD COLUMN rpd INTEGER",
            "ALTER TABLE accounts ADD COLUMN quota_tokens INTEGER",
            "ALTER TABLE accounts ADD COLUMN quota_cost_usd REAL",
            "ALTER TABLE accounts ADD COLUMN quota_period TEXT NOT NULL DEFAULT 'month'"
            " CHECK (quota_period IN ('day', 'month'))",
            "ALTER TABLE api_keys ADD COLUMN rpd INTEGER",
            "ALTER TABLE api_keys ADD COLUMN last_used_at REAL",
        ),
    ),
    Migration(
        3,
        "per-account usage queries without a full ledger scan",
        ("CREATE INDEX usage_daily_account_day ON usage_daily (account_id, day)",),
    ),
    Migration(
        4,
        "dashboard members, sessions and sign-in throttling",
        (
            """CREATE TABLE members (
                id            TEXT PRIMARY KEY,
                account_id    TEXT NOT NULL REFERENCES accounts (id),
                email         TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                created_at    REAL NOT NULL,
                last_login_at REAL
            )""",
            "CREATE INDEX members_account ON members (account_id)",
            """CREATE TABLE dashboard_sessions (
                id_hash    TEXT PRIMARY KEY,
                member_id  TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                account_id TEXT NOT NULL,
                csrf_token TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            ) WITHOUT ROWID""",
            "CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at)",
            "CREATE INDEX dashboard_sessions_member ON dashboard_sessions (member_id)",
            """CREATE TABLE login_failures (
                subject  TEXT PRIMARY KEY,
                failures INTEGER NOT NULL,
                last_at  REAL NOT NULL
            ) WITHOUT ROWID""",
        ),
    ),
    Migration(
        5,
        "usage batch ids, so a batch retried after its commit is not counted twice",
        (
            """CREATE TABLE usage_batches (
                id         TEXT PRIMARY KEY,
                written_at REAL NOT NULL
            ) WITHOUT ROWID""",
            "CREATE INDEX usage_batches_written ON usage_batches (written_at)",
        ),
    ),
    Migration(
        6,
        "per-key error body format (NULL: the server's error_format)",
        ("ALTER TABLE api_keys ADD COLUMN error_format TEXT",),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    """The number of migration steps the database has applied."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def migrate(conn: sqlite3.Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply the missing steps in one transaction; return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``) so the explicit
    BEGIN here owns the transaction: a failing step leaves the file untouched.
    """
    # IMMEDIATE takes the write lock before reading the version, so two processes
    # opening an old file at once cannot both decide to run the same step.
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = schema_version(conn)
        target = migrations[-1].version if migrations else 0
        if current > target:
            raise SchemaTooNew(
                f"database schema version {current} is newer than this release ({target})"
            )
        for step in migrations:
            if step.version <= current:
                continue
            for statement in step.statements:
                conn.execute(statement)
            # user_version lives in the file header, which the transaction covers.
            conn.execute(f"PRAGMA user_version = {int(step.version)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return schema_version(conn)
