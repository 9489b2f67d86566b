"""Discovery: only the plugins the config uses are imported (proved in a fresh
process through sys.modules), the rest are reported; the contract version is checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from viberouter_echo import EchoProvider

from router_core import discovery
from router_core.discovery import PROVIDERS, EntryPoint, Loaded, PluginError
from router_core.plugin_api import CONTRACT_VERSION

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = {
    "viberouter_echo",
    "viberouter_openai",
    "viberouter_anthropic",
    "viberouter_gemini",
}

# Runs in a fresh interpreter: what start-up imports, seen from sys.modules.
PROBE = """
import json, sys
from router_core.settings import load_settings
from router_core import discovery

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules if m.startswith("viberouter_")})

found = discovery.scan(discovery.PROVIDERS)
after_scan = loaded()
if sys.argv[2] == "app":
    from router_core.app import make_app
    make_app(load_settings(sys.argv[1], {}))
else:
    from router_core.cli import main
    assert main(["--config", sys.argv[1], "check-config"], environ={}) == 0
print(json.dumps({"installed": sorted(found), "after_scan": after_scan, "after": loaded()}))
"""

ECHO_ONLY = """
[state]
sqlite_path = "router.db"

[providers.echo]
plugin = "echo"
"""


def _probe(config: Path, how: str, cwd: Path) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(config), how],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    doc: dict[str, list[str]] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


@pytest.mark.parametrize("how", ["app", "check-config"])
def test_a_config_that_uses_only_echo_imports_only_echo(tmp_path: Path, how: str) -> None:
    config = tmp_path / "echo.toml"
    config.write_text(ECHO_ONLY)
    seen = _probe(config, how, tmp_path)
    # every bundled provider is installed and was found, none imported by the scan
    assert {f"viberouter_{n}" for n in seen["installed"]} >= PLUGIN_PACKAGES
    assert seen["after_scan"] == []
    assert seen["after"] == ["viberouter_echo"]


def test_the_default_config_without_keys_imports_only_echo(tmp_path: Path) -> None:
    # the shipped config names openai too, enabled only with OPENAI_API_KEY
    seen = _probe(ROOT / "config" / "viberouter.toml", "check-config", tmp_path)
    assert seen["after"] == ["viberouter_echo"]


def _plugins(*argv: str, cwd: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "router_core.cli", *argv, "plugins", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "VIBEROUTER_CONFIG"},
    )
    listed: list[dict[str, object]] = json.loads(out.stdout)
    return listed


def test_plugins_lists_installed_but_unused_ones_as_such(tmp_path: Path) -> None:
    config = tmp_path / "echo.toml"
    config.write_text(ECHO_ONLY)
    listed = {(p["kind"], p["name"]): p for p in _plugins("--config", str(config), cwd=tmp_path)}
    assert listed["provider", "echo"]["used"] is True
    for name in ("openai", "anthropic", "gemini"):
        assert listed["provider", name]["used"] is False
        assert listed["provider", name]["error"] is None  # checked: it imports and fits
    assert listed["filter", "keywords"]["used"] is False
    # no config file at all: what is installed, "used" unknown
    bare = {(p["kind"], p["name"]): p for p in _plugins(cwd=tmp_path)}
    assert bare["provider", "echo"]["used"] is None


def _loaded(cls: object) -> Loaded:
    return Loaded(EntryPoint(PROVIDERS, "x", "x:X", "viberouter-x", "1.0"), cls)


def test_the_contract_version_is_checked() -> None:
    major, minor = CONTRACT_VERSION

    class Current(EchoProvider):
        contract_version: ClassVar[tuple[int, int]] = (major, minor)

    class Newer(EchoProvider):
        contract_version: ClassVar[tuple[int, int]] = (major, minor + 1)

    class Older(EchoProvider):
        contract_version: ClassVar[tuple[int, int]] = (major - 1, 0)

    class Legacy(EchoProvider):
        api_version = 1  # how contract-1 plugins declared themselves

    assert discovery.provider_class(_loaded(Current)) is Current
    for cls in (Newer, Older, Legacy):
        offers = rf"router offers \({major}, {minor}\)"
        with pytest.raises(PluginError, match=rf"plugin contract .* {offers}"):
            discovery.provider_class(_loaded(cls))
    with pytest.raises(PluginError, match="not a ProviderPlugin subclass"):
        discovery.provider_class(_loaded(object))
    with pytest.raises(PluginError, match="broken on purpose"):
        discovery.provider_class(
            Loaded(_loaded(None).entry, None, "ImportError: broken on purpose")
        )


def test_load_imports_only_the_names_given() -> None:
    found = discovery.scan(PROVIDERS)
    assert discovery.load(PROVIDERS, ["no-such-plugin"], found) == {}
    (hit,) = discovery.load(PROVIDERS, ["echo"], found).values()
    assert hit.error is None and hit.entry.distribution == "viberouter-echo"


def test_filters_are_found_through_the_same_module() -> None:
    from router_core.filters import KeywordFilter

    found = discovery.scan(discovery.FILTERS)
    assert found["keywords"].distribution == "viberouter"
    (hit,) = discovery.load(discovery.FILTERS, ["keywords"], found).values()
    assert hit.obj is KeywordFilter and hit.error is None
