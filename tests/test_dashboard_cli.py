"""`viberouter members ...`: operators add the people who sign in to the dashboard."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

import pytest

from router_core.cli import main
from router_core.dashboard.members import MemberService
from router_core.store.sqlite import SqliteStore


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "viberouter.toml"
    db = (tmp_path / "cli.db").as_posix()
    path.write_text(f'[state]\nbackend = "embedded"\nsqlite_path = "{db}"\n', encoding="utf-8")
    return str(path)


def run(config: str, *argv: str) -> int:
    return main(["--config", config, *argv], environ={})


def json_out(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def password_works(config: str, email: str, password: str) -> bool:
    db = Path(config).parent / "cli.db"

    async def check() -> bool:
        store = SqliteStore(str(db))
        await store.open()
        try:
            return await MemberService(store, store).check(email, password) is not None
        finally:
            await store.close()

    return asyncio.run(check())


def test_members_add_list_passwd_remove(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(config, "accounts", "create", "team", "--json") == 0
    account = json_out(capsys)
    assert isinstance(account, dict)

    assert run(config, "members", "add", account["id"], "Ann@Example.com", "--generate") == 0
    out = capsys.readouterr().out
    assert "ann@example.com" in out
    generated = out.split("hand it over now): ")[1].strip()
    assert password_works(config, "ann@example.com", generated)

    monkeypatch.setattr(sys, "stdin", io.StringIO("typed by the operator\n"))
    assert run(config, "members", "add", account["id"], "bob@example.com", "--password-stdin") == 0
    assert "password" not in capsys.readouterr().out.split(")")[-1]  # not echoed back
    assert password_works(config, "bob@example.com", "typed by the operator")

    assert run(config, "members", "list", "--account", account["id"], "--json") == 0
    listed = json_out(capsys)
    assert [m["email"] for m in listed] == ["ann@example.com", "bob@example.com"]  # type: ignore[union-attr,index]
    assert "password_hash" not in json.dumps(listed)

    monkeypatch.setattr(sys, "stdin", io.StringIO("a brand new secret\n"))
    assert run(config, "members", "passwd", "ann@example.com", "--password-stdin") == 0
    assert password_works(config, "ann@example.com", "a brand new secret")
    assert not password_works(config, "ann@example.com", generated)

    assert run(config, "members", "remove", "bob@example.com") == 0
    assert not password_works(config, "bob@example.com", "typed by the operator")


def test_members_exit_codes(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(config, "accounts", "create", "team", "--json") == 0
    account_id = json_out(capsys)["id"]  # type: ignore[index]
    assert run(config, "members", "add", "acct_missing", "x@example.com", "--generate") == 3
    assert run(config, "members", "add", account_id, "not-an-email", "--generate") == 2
    assert run(config, "members", "add", account_id, "x@example.com", "--generate") == 0
    assert run(config, "members", "add", account_id, "X@example.com", "--generate") == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert run(config, "members", "passwd", "x@example.com", "--password-stdin") == 2
    assert run(config, "members", "remove", "nobody@example.com") == 3
    err = capsys.readouterr().err
    assert "acct_missing" in err and "already exists" in err and "at least 8" in err
    with pytest.raises(SystemExit) as usage:
        run(config, "members", "add", account_id)
    assert usage.value.code == 2
