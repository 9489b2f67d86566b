"""A plugin catalog's short model names (its aliases) are deployment names too: the
README's own fallback route passes check-config, and clients may ask for them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from router_core.catalog import Catalog
from router_core.cli import EXIT_OK, main
from router_core.discovery import load_providers
from router_core.settings import parse_settings

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS = """
[providers.anthropic]
plugin = "anthropic"
settings = { api_key = "sk-ant-test" }

[providers.openai]
plugin = "openai"
settings = { base_url = "https://api.openai.com/v1", api_key = "sk-test" }
"""


def readme_route() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```toml\n(\[routes\.smart\]\n.*?)```", readme, re.S)
    assert match is not None, "the README lost its fallback route example"
    return match.group(1)


def test_the_readme_fallback_route_passes_check_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    route = readme_route()
    assert '"anthropic/claude-sonnet-4-5"' in route  # the catalog's alias, as printed
    cfg = tmp_path / "router.toml"
    cfg.write_text(PROVIDERS + "\n" + route)
    code = main(["--config", str(cfg), "check-config"], environ={})
    out = capsys.readouterr()
    assert code == EXIT_OK, out.err
    assert "OK" in out.out


def test_clients_may_ask_for_the_alias() -> None:
    settings = parse_settings(PROVIDERS + "\n" + readme_route(), {})
    catalog = Catalog(settings, load_providers(settings))
    smart = catalog.resolve("smart")
    assert smart is not None
    assert [t.deployment.id for t in smart.targets] == [
        "anthropic/claude-sonnet-4-5-20250929",
        "openai/gpt-4o",
    ]
    by_alias = catalog.resolve("anthropic/claude-sonnet-4-5")
    assert by_alias is not None
    assert by_alias is catalog.resolve("anthropic/claude-sonnet-4-5-20250929")
    listed = [r.name for r in catalog.listed()]
    assert "anthropic/claude-sonnet-4-5" not in listed  # one entry per model in /v1/models
    assert "anthropic/claude-sonnet-4-5-20250929" in listed
    assert catalog.resolve("anthropic/claude-nonsense") is None
