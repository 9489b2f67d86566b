"""`viberouter accounts|keys|usage` on both backends: JSON output, exit codes, and a
key created by the CLI works against a router using the same store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router_core.cli import EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_OK, main


def write_config(tmp: Path, backend: str, redis_url: str = "redis://127.0.0.1:1/0") -> Path:
    cfg = tmp / "cli.toml"
    cfg.write_text(
        f"""
[state]
backend = "{backend}"
sqlite_path = "{(tmp / "cli.db").as_posix()}"
redis_url = "{redis_url}"

[providers.echo]
plugin = "echo"
"""
    )
    return cfg


@pytest.fixture(params=["embedded", "redis"])
def cli_config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "redis":
        server = request.getfixturevalue("redis_proc")
        server.start()
        import redis

        redis.Redis.from_url(server.url).flushall()
        return write_config(tmp_path, "redis", server.url)
    return write_config(tmp_path, "embedded")


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(cfg), *argv], environ={})
    out = capsys.readouterr()
    return code, out.out, out.err


def test_accounts_and_keys_lifecycle(cli_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, cli_config, "accounts", "create", "acme", "--rpm", "60", "--json")
    assert code == EXIT_OK
    account = json.loads(out)
    assert account["name"] == "acme" and account["rpm"] == 60 and account["tpm"] is None

    code, out, _ = run(
        capsys,
        cli_config,
        "keys",
        "create",
        account["id"],
        "--name",
        "ci",
        "--expires",
        "30d",
        "--model",
        "echo*",
        "--json",
    )
    assert code == EXIT_OK
    created = json.loads(out)
    secret = created["secret"]
    assert secret.startswith("vr-") and created["key"]["prefix"] == secret[:9] + "…"
    assert "secret_hash" not in created["key"]
    assert created["key"]["allowed_models"] == ["echo*"]

    code, out, _ = run(capsys, cli_config, "keys", "list", "--json")
    listed = json.loads(out)
    assert [k["id"] for k in listed] == [created["key"]["id"]]
    assert secret not in out and "hash" not in out

    code, out, _ = run(capsys, cli_config, "keys", "rotate", created["key"]["id"], "--json")
    rotated = json.loads(out)
    assert rotated["secret"] != secret and rotated["key"]["id"] == created["key"]["id"]

    code, out, _ = run(capsys, cli_config, "keys", "revoke", created["key"]["id"], "--json")
    assert json.loads(out)["status"] == "revoked"

    code, out, _ = run(capsys, cli_config, "accounts", "disable", account["id"])
    assert code == EXIT_OK and "inactive" in out
    code, out, _ = run(capsys, cli_config, "accounts", "show", account["id"])
    assert json.loads(out)["status"] == "inactive"
    code, out, _ = run(capsys, cli_config, "accounts", "enable", account["id"], "--json")
    assert json.loads(out)["status"] == "active"

    code, out, _ = run(capsys, cli_config, "accounts", "list")
    assert "acme" in out and "1 accounts" in out
    code, out, _ = run(capsys, cli_config, "usage", "--json")
    assert code == EXIT_OK and json.loads(out) == []


@pytest.mark.parametrize(
    "argv",
    [
        ("accounts", "show", "acct_nope"),
        ("accounts", "disable", "acct_nope"),
        ("keys", "revoke", "key_nope"),
        ("keys", "rotate", "key_nope"),
        ("keys", "create", "acct_nope"),
    ],
)
def test_unknown_ids_exit_3(
    cli_config: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, err = run(capsys, cli_config, *argv)
    assert code == EXIT_NOT_FOUND
    assert "_nope" in err and out == ""


def test_bad_config_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nport = 'eighty'\n")
    code, _, err = run(capsys, cfg, "check-config")
    assert code == EXIT_CONFIG
    assert "$.server.port" in err and "Expected `int`" in err


def test_check_config_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, write_config(tmp_path, "embedded"), "check-config")
    assert code == EXIT_OK and "OK (1 providers" in out


def test_missing_plugin_names_the_package(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "missing.toml"
    cfg.write_text('[providers.x]\nplugin = "nonexistent"\n')
    code, _, err = run(capsys, cfg, "check-config")
    assert code == EXIT_CONFIG
    assert "pip install viberouter-nonexistent" in err


def test_plugins_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"], environ={}) == EXIT_OK
    names = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert {"echo", "openai", "anthropic", "gemini"} <= set(names)
    assert names["echo"]["distribution"] == "viberouter-echo"
