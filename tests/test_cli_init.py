"""`viberouter init`, the packaged starter config, config-relative paths and the
first-run banner: a new operator's first five minutes, run as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.router_process import start_router_process


def cli(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The `viberouter` command as a process, from ``cwd`` (no config in the environment)."""
    return subprocess.run(
        [sys.executable, "-m", "router_core.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_init_writes_a_valid_starter_and_never_overwrites(tmp_path: Path) -> None:
    made = cli(tmp_path, "init", "site")
    assert made.returncode == 0, made.stderr
    cfg = tmp_path / "site" / "viberouter.toml"
    assert f"wrote {Path('site') / 'viberouter.toml'}" in made.stdout
    assert "--config site/viberouter.toml serve" in made.stdout
    checked = cli(tmp_path, "--config", str(cfg), "check-config")
    assert checked.returncode == 0, checked.stderr

    cfg.write_text(cfg.read_text() + "\n# operator's edit\n")
    again = cli(tmp_path, "init", "site")
    assert again.returncode == 1
    assert "exists" in again.stderr and "--force" in again.stderr
    assert cfg.read_text().endswith("# operator's edit\n")
    forced = cli(tmp_path, "init", "site", "--force")
    assert forced.returncode == 0
    assert "operator's edit" not in cfg.read_text()


def test_default_folder_and_plain_serve_hint(tmp_path: Path) -> None:
    made = cli(tmp_path, "init")
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "config" / "viberouter.toml").is_file()
    assert "start the router with: viberouter serve" in made.stdout


def test_missing_config_says_how_to_get_one(tmp_path: Path) -> None:
    got = cli(tmp_path, "accounts", "list")
    assert got.returncode == 4
    line = got.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "viberouter init config" in line and "--config" in line


def test_relative_sqlite_path_is_beside_the_config_file(tmp_path: Path) -> None:
    assert cli(tmp_path, "init", "etc").returncode == 0
    cfg = (tmp_path / "etc" / "viberouter.toml").resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = cli(elsewhere, "--config", str(cfg), "accounts", "create", "acme", "--json")
    assert made.returncode == 0, made.stderr
    third = tmp_path / "third"
    third.mkdir()
    listed = cli(third, "--config", str(cfg), "accounts", "list", "--json")
    assert [a["name"] for a in json.loads(listed.stdout)] == ["acme"]
    assert (tmp_path / "etc" / "viberouter.db").is_file()
    assert not list(elsewhere.glob("*.db")) and not list(third.glob("*.db"))


def test_banner_names_a_model_the_config_serves(tmp_path: Path) -> None:
    cfg = tmp_path / "router.toml"
    cfg.write_text(
        '[state]\nsqlite_path = "banner.db"\n\n'
        '[providers.local]\nplugin = "echo"\n\n'
        '[routes.house-model]\ndeployments = ["local/echo-1"]\n'
    )
    router = start_router_process(cfg, tmp_path)
    try:
        router.demo_key()
        banner = router.output()
        assert '"model": "house-model"' in banner
        assert '"model": "echo"' not in banner
    finally:
        router.stop()
