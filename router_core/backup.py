"""`viberouter backup|restore`: copies of the embedded state's SQLite files.

Both use SQLite's online backup API, page by page under SQLite's own locks, so a backup
taken while the router serves is a consistent snapshot (WAL included), never a torn file
copy. A restore checks the copy first (integrity, a schema this release can open) and
writes it into the live file the same way; the router should be stopped for it, since a
running one keeps its caches and its pending usage. The stored-responses file beside the
state file (see store.factory.responses_sqlite_path) travels with it when it exists.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

from router_core.store.factory import responses_sqlite_path
from router_core.store.migrations import LATEST_VERSION, schema_version


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Copied:
    """What one backup or restore moved (for the command's summary line)."""

    files: tuple[str, ...]
    accounts: int
    keys: int
    usage_rows: int
    size_bytes: int
    seconds: float

    def summary(self, verb: str, where: str) -> str:
        return (
            f"{verb} {_n(self.accounts, 'account')}, {_n(self.keys, 'key')}, "
            f"{_n(self.usage_rows, 'usage row')} ({self.size_bytes / 1e6:.2f} MB in "
            f"{_n(len(self.files), 'file')}) {where} in {self.seconds:.2f} s"
        )


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _copy(src: str, dst: str) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _counts(path: str) -> tuple[int, int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        accounts, keys, usage = (
            int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("accounts", "api_keys", "usage_daily")
        )
        return accounts, keys, usage
    finally:
        conn.close()


def _check(path: str) -> None:
    """A file this release can serve from, or BackupError naming what is wrong."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"{path}: cannot open: {exc}") from exc
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a VibeRouter state file: {exc}") from exc
    finally:
        conn.close()
    if ok != "ok":
        raise BackupError(f"{path}: damaged ({ok}); pick another backup")
    if not 0 < version <= LATEST_VERSION:
        raise BackupError(
            f"{path}: schema version {version}, this release reads 1 to {LATEST_VERSION}"
        )


def _pairs(src: str, dst: str) -> list[tuple[str, str]]:
    pairs = [(src, dst)]
    extra_src, extra_dst = responses_sqlite_path(src), responses_sqlite_path(dst)
    if os.path.exists(extra_src):
        pairs.append((extra_src, extra_dst))
    return pairs


def backup(live: str, out: str, *, force: bool = False) -> Copied:
    """Copy the state file ``live`` (and its responses file) to ``out``."""
    t0 = time.monotonic()
    if not os.path.exists(live):
        raise BackupError(f"{live}: no state file there (has the router run with this config?)")
    if os.path.exists(out) and not force:
        raise BackupError(f"{out} exists; name a new file, or pass --force to replace it")
    pairs = _pairs(live, out)
    for src, dst in pairs:
        if os.path.exists(dst):
            os.remove(dst)
        _copy(src, dst)
    _check(out)
    return _result(out, pairs, t0)


def restore(copy: str, live: str, *, force: bool = False) -> Copied:
    """Write the backup ``copy`` (and its responses file) over the state file ``live``."""
    t0 = time.monotonic()
    if not os.path.exists(copy):
        raise BackupError(f"{copy}: no such backup file")
    _check(copy)
    if os.path.exists(live) and not force:
        raise BackupError(
            f"{live} exists and would be replaced: stop the router, then pass --force"
        )
    pairs = _pairs(copy, live)
    for src, dst in pairs:
        _copy(src, dst)  # into the live file under SQLite's locks (its WAL is reset too)
    return _result(live, pairs, t0)


def _result(path: str, pairs: list[tuple[str, str]], t0: float) -> Copied:
    accounts, keys, usage_rows = _counts(path)
    return Copied(
        files=tuple(dst for _, dst in pairs),
        accounts=accounts,
        keys=keys,
        usage_rows=usage_rows,
        size_bytes=sum(os.path.getsize(dst) for _, dst in pairs),
        seconds=time.monotonic() - t0,
    )
