"""`viberouter backup` while a real router serves and writes, and `viberouter restore`
into a stopped one: the copy is consistent and holds what the store held."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import openai

from tests.router_process import run_cli, start_router_process


def write_config(tmp: Path) -> Path:
    cfg = tmp / "router.toml"
    cfg.write_text(
        '[state]\nsqlite_path = "state.db"\n\n[providers.echo]\nplugin = "echo"\n\n'
        '[routes.echo]\ndeployments = ["echo/echo-1"]\n'
    )
    return cfg


def test_backup_under_traffic_then_restore(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    router = start_router_process(cfg, tmp_path)
    stop = threading.Event()
    sent = []

    def traffic(key: str) -> None:
        client = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
        while not stop.is_set() and len(sent) < 400:
            client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "hi"}]
            )
            sent.append(200)

    try:
        key = router.demo_key()
        made = run_cli(cfg, "accounts", "create", "acme", "--json")
        acme = json.loads(made.stdout)
        worker = threading.Thread(target=traffic, args=(key,))
        worker.start()
        time.sleep(0.5)
        out = tmp_path / "backups" / "monday.db"
        out.parent.mkdir()
        taken = run_cli(cfg, "backup", str(out))
        stop.set()
        worker.join(timeout=30)
        assert taken.returncode == 0, taken.stderr
        assert taken.stdout.startswith("backed up 2 accounts, 1 key, ")
        assert f"to {out} in" in taken.stdout
        assert len(sent) > 0  # each was a successful SDK call (errors raise)
        again = run_cli(cfg, "backup", str(out))
        assert again.returncode == 1 and "--force" in again.stderr
    finally:
        stop.set()
        router.stop()

    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert {r[0] for r in conn.execute("SELECT name FROM accounts")} == {"demo", "acme"}
    conn.close()

    # Lose the account, then bring it back from the copy (router stopped).
    assert run_cli(cfg, "accounts", "disable", "acme").returncode == 0
    refused = run_cli(cfg, "restore", str(out))
    assert refused.returncode == 1 and "stop the router, then pass --force" in refused.stderr
    put = run_cli(cfg, "restore", str(out), "--force")
    assert put.returncode == 0, put.stderr
    assert put.stdout.startswith("restored 2 accounts, 1 key, ")
    shown = json.loads(run_cli(cfg, "accounts", "show", acme["id"]).stdout)
    assert shown["status"] == "active"

    router = start_router_process(cfg, tmp_path)
    try:
        client = openai.OpenAI(base_url=router.base_url, api_key=key, max_retries=0)
        answer = client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "back"}]
        )
        assert answer.choices[0].message.content == "back"
    finally:
        router.stop()


def test_restore_refuses_what_is_not_a_state_file(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    got = run_cli(cfg, "restore", str(junk), "--force")
    assert got.returncode == 1 and "not a VibeRouter state file" in got.stderr
    assert got.stderr.count("\n") == 1
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    got = run_cli(cfg, "restore", str(empty), "--force")
    assert got.returncode == 1 and "schema version 0" in got.stderr
    missing = run_cli(cfg, "backup", str(tmp_path / "x.db"))
    assert missing.returncode == 1 and "no state file there" in missing.stderr


def test_redis_backend_points_to_redis_persistence(tmp_path: Path) -> None:
    cfg = tmp_path / "redis.toml"
    cfg.write_text('[state]\nbackend = "redis"\n')
    got = run_cli(cfg, "backup", str(tmp_path / "x.db"))
    assert got.returncode == 2 and "BGSAVE" in got.stderr
