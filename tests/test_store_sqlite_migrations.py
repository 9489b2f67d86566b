"""SQLite schema migrations: an old file upgrades in place and keeps its data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router_core.store.base import UsageEvent, UsageRow, hash_secret
from router_core.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    SchemaTooNew,
    migrate,
    schema_version,
)
from router_core.store.sqlite import SqliteStore

MARCH_11_NOON = 1710158400.0


def build_v1(path: Path, data_dir: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript((data_dir / "store_v1.sql").read_text(encoding="utf-8"))
    finally:
        conn.close()


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return schema_version(conn)
    finally:
        conn.close()


def columns(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"PRAGMA table_info({t})").fetchall() for t in sorted(tables)}
    finally:
        conn.close()


def test_fixture_is_exactly_migration_one(tmp_path: Path, data_dir: Path) -> None:
    """Guards the fixture: if it drifts from step 1, the upgrade test proves nothing."""
    build_v1(tmp_path / "fixture.db", data_dir)
    conn = sqlite3.connect(tmp_path / "step1.db", isolation_level=None)
    try:
        assert migrate(conn, MIGRATIONS[:1]) == 1
    finally:
        conn.close()
    assert version_of(tmp_path / "fixture.db") == 1
    assert columns(tmp_path / "fixture.db") == columns(tmp_path / "step1.db")


async def test_v1_file_upgrades_in_place_and_keeps_rows(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "store.db"
    build_v1(path, data_dir)
    assert LATEST_VERSION > 1

    store = SqliteStore(str(path))
    await store.open()
    try:
        key = await store.get_key_by_hash(hash_secret("vr-fixture-secret-one"))
        assert key is not None
        assert key.id == "key_0000000000000001"
        assert key.limits.rpm == 30 and key.limits.tpm is None
        assert key.limits.rpd is None and key.last_used_at is None  # new columns, defaulted
        assert key.allowed_models == ("gpt-4o*", "echo")

        old = await store.get_key("key_0000000000000002")
        assert old is not None
        assert old.revoked_at == 1710000400.0 and old.expires_at == 1800000000.0
        assert old.limits.concurrency == 0  # zero survives; it is not "no limit"

        accounts = await store.list_accounts()
        assert [a.id for a in accounts] == ["acct_0000000000000001", "acct_0000000000000002"]
        research, legacy = accounts
        assert (research.limits.rpm, research.limits.tpm, research.limits.concurrency) == (
            60,
            100000,
            4,
        )
        assert research.limits.quota_period == "month"
        assert research.limits.rpd is None and research.limits.quota_tokens is None
        assert research.limits.quota_cost_usd is None
        assert legacy.status == "inactive" and legacy.limits.tpm == 0 and legacy.limits.rpm is None

        # The upgraded file is fully usable: new columns writable, old ledger extended.
        await store.touch_keys({key.id: 1710200000.0})
        touched = await store.get_key(key.id)
        assert touched is not None and touched.last_used_at == 1710200000.0
        await store.record_usage(
            [UsageEvent(MARCH_11_NOON, research.id, key.id, "gpt-4o", 10, 5, 0.25)]
        )
        assert await store.query_usage(since_day="2024-03-11") == [
            UsageRow("2024-03-11", research.id, key.id, "gpt-4o", 2, 110, 55, 0.5)
        ]
        assert len(await store.query_usage()) == 2
    finally:
        await store.close()

    assert version_of(path) == LATEST_VERSION
    assert columns(path) == columns_of_fresh(tmp_path)


def columns_of_fresh(tmp_path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    try:
        migrate(conn)
    finally:
        conn.close()
    return columns(tmp_path / "fresh.db")


async def test_reopening_latest_file_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    statements: list[str] = []
    for _ in range(2):
        statements.clear()
        store = SqliteStore(str(path), trace=statements.append)
        await store.open()
        await store.close()
    assert version_of(path) == LATEST_VERSION
    assert not [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER"))]


def test_failed_step_leaves_file_at_old_version(tmp_path: Path, data_dir: Path) -> None:
    path = tmp_path / "store.db"
    build_v1(path, data_dir)
    broken = (
        *MIGRATIONS[:1],
        Migration(2, "adds a table, then fails", (
            "CREATE TABLE half_done (x INTEGER)",
            "ALTER TABLE no_such_table ADD COLUMN y INTEGER",
        )),
    )  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, broken)
        assert schema_version(conn) == 1
        leftover = conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'")
        assert leftover.fetchone() is None
    finally:
        conn.close()


async def test_file_from_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.close()
    store = SqliteStore(str(path))
    with pytest.raises(SchemaTooNew):
        await store.open()
    await store.close()
