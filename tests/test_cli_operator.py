"""The CLI as an operator meets it: accounts by name, one-line failures, help on every
option, and account commands that need only the config's [state] section."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from router_core.cli import EXIT_FAIL, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, build_parser, main
from tests.router_process import run_cli


def config(tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "router.toml"
    cfg.write_text(f'[state]\nsqlite_path = "ops.db"\n\n[providers.echo]\nplugin = "echo"\n{extra}')
    return cfg


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(cfg), *argv], environ={})
    out = capsys.readouterr()
    return code, out.out, out.err


def test_accounts_are_accepted_by_name_or_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    code, out, _ = run(capsys, cfg, "accounts", "create", "acme", "--json")
    acme = json.loads(out)
    code, out, err = run(capsys, cfg, "keys", "create", "acme", "--name", "ci", "--json")
    assert code == EXIT_OK, err
    key = json.loads(out)["key"]
    assert key["account_id"] == acme["id"]
    for argv in (("keys", "list", "acme"), ("keys", "list", "--account", "acme")):
        code, out, _ = run(capsys, cfg, *argv, "--json")
        assert code == EXIT_OK and [k["id"] for k in json.loads(out)] == [key["id"]]
    code, out, _ = run(capsys, cfg, "accounts", "show", "acme")
    assert json.loads(out)["id"] == acme["id"]
    code, out, _ = run(capsys, cfg, "accounts", "disable", acme["id"], "--json")
    assert json.loads(out)["status"] == "inactive"
    code, out, _ = run(capsys, cfg, "usage", "--account", "acme", "--json")
    assert code == EXIT_OK and json.loads(out) == []


def test_an_ambiguous_or_unknown_name_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path)
    ids = [
        json.loads(run(capsys, cfg, "accounts", "create", "twin", "--json")[1])["id"]
        for _ in range(2)
    ]
    code, _, err = run(capsys, cfg, "keys", "create", "twin")
    assert code == EXIT_NOT_FOUND
    assert "2 accounts are named 'twin'" in err and all(i in err for i in ids)
    code, _, err = run(capsys, cfg, "keys", "list", "nobody")
    assert code == EXIT_NOT_FOUND and "no account with id or name 'nobody'" in err
    assert err.count("\n") == 1


def test_account_commands_do_not_need_unrelated_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(
        tmp_path,
        '\n[providers.openai]\nplugin = "openai"\n'
        'settings = { base_url = "https://api.openai.com/v1", api_key = "env:NOT_SET_HERE" }\n',
    )
    code, out, err = run(capsys, cfg, "accounts", "list")
    assert code == EXIT_OK, err
    assert out.strip().endswith("0 accounts")
    # the server still insists: it would use that provider
    code, _, err = run(capsys, cfg, "check-config")
    assert code == 4 and "NOT_SET_HERE" in err


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "redis.toml"
    cfg.write_text('[state]\nbackend = "redis"\nredis_url = "redis://:hunter2@127.0.0.1:1/0"\n')
    got = run_cli(cfg, "accounts", "list")
    assert got.returncode == EXIT_FAIL
    assert got.stderr.count("\n") == 1 and "Traceback" not in got.stderr
    assert "redis state at redis://***@127.0.0.1:1/0" in got.stderr
    assert "hunter2" not in got.stderr


def test_members_add_without_a_terminal_says_how(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    made = run_cli(cfg, "accounts", "create", "acme")
    assert made.returncode == EXIT_OK, made.stderr
    got = run_cli(cfg, "members", "add", "acme", "ops@example.com")  # stdin: no terminal
    assert got.returncode == EXIT_USAGE
    assert "Traceback" not in got.stderr and got.stderr.count("\n") == 1
    assert "--password-stdin" in got.stderr and "--generate" in got.stderr
    piped = run_cli(
        cfg,
        *("members", "add", "acme", "ops@example.com", "--password-stdin"),
        stdin="correct horse battery staple\n",
    )
    assert piped.returncode == EXIT_OK, piped.stderr
    assert "added member" in piped.stdout


def _actions(parser: argparse.ArgumentParser, path: str) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction):
            found.append((path, action))
    return found


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{path} {action.dest}"
        for path, action in _actions(build_parser(), "viberouter")
        if not action.help
    ]
    assert missing == []


BROKEN = """
[server]
port = "eighty"

[state]
backend = "embedded"
sqlite_pth = "typo.db"

[providers.local]
plugin = "echoo"

[providers.oai]
plugin = "openai"
settings = { base_url = "https://api.openai.com/v1", api_key = "env:MISSING_KEY", timeout = "x" }

[routes.a]
deployments = ["nowhere/model"]
"""


def test_check_config_reports_every_problem_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text(BROKEN)
    code, _, err = run(capsys, cfg, "check-config")
    assert code == 4
    lines = err.strip().splitlines()
    assert all(line.startswith(f"viberouter: {cfg}: ") for line in lines), lines
    joined = "\n".join(lines)
    assert "$.providers.oai.settings.api_key: environment variable MISSING_KEY" in joined
    assert "`$.server.port`" in joined
    assert "sqlite_pth" in joined and "`$.state`" in joined
    # shape errors first; the rest is checked once the shapes are right
    cfg.write_text(BROKEN.replace('"eighty"', "8080").replace("sqlite_pth", "sqlite_path"))
    code, _, err = run(
        capsys,
        cfg,
        "check-config",
    )
    joined = err.strip()
    assert code == 4
    assert "routes.a.deployments[0]: unknown provider 'nowhere'" in joined
    assert "MISSING_KEY" in joined


def test_check_config_names_the_nearest_plugin_and_plugin_setting_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "plugins.toml"
    cfg.write_text(
        '[providers.local]\nplugin = "echoo"\n\n'
        '[providers.oai]\nplugin = "openai"\n'
        'settings = { base_url = "https://api.openai.com/v1", api_key = "k", retries = "x" }\n'
        '\n[providers.other]\nplugin = "zzzq-nothing-like-it"\n'
    )
    code, _, err = run(capsys, cfg, "check-config")
    assert code == 4
    assert "providers.local.plugin: 'echoo' is not an installed plugin; did you mean 'echo'?" in err
    assert "pip install viberouter-echoo" not in err
    assert "pip install viberouter-zzzq-nothing-like-it" in err
    assert "$.providers.oai.settings" in err
    assert len(err.strip().splitlines()) == 3


def test_check_config_warns_when_an_alias_hides_a_route(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(
        tmp_path,
        '\n[routes.fast]\ndeployments = ["echo/echo-1"]\n'
        '\n[routes.slow]\ndeployments = ["echo/echo-1"]\naliases = ["fast"]\n',
    )
    code, out, err = run(capsys, cfg, "check-config")
    assert code == EXIT_OK and "OK" in out
    assert "warning" in err and "alias 'fast' of route 'slow' hides route 'fast'" in err
