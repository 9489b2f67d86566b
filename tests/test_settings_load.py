"""Config loading: env references from an injected environment, when_env, errors
with field paths, and the default config running offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_core.catalog import Catalog
from router_core.discovery import load_providers
from router_core.settings import ConfigError, config_path, load_settings, parse_settings

ROOT = Path(__file__).resolve().parent.parent


def test_default_config_runs_offline() -> None:
    s = load_settings(ROOT / "config" / "viberouter.toml", {})
    assert s.server.host == "127.0.0.1" and s.server.port == 8080
    assert s.state.backend == "embedded"
    assert set(s.providers) == {"echo"}  # openai needs OPENAI_API_KEY
    assert set(s.routes) == {"echo"}
    catalog = Catalog(s, load_providers(s))
    assert catalog.resolve("echo") is not None and catalog.resolve("echo-latest") is not None


def test_default_config_enables_openai_with_key() -> None:
    s = load_settings(ROOT / "config" / "viberouter.toml", {"OPENAI_API_KEY": "sk-test"})
    assert s.providers["openai"].settings["api_key"] == "sk-test"
    assert {"gpt-4o", "gpt-4o-mini", "echo"} <= set(s.routes)
    catalog = Catalog(s, load_providers(s))
    route = catalog.resolve("gpt-4o")
    assert route is not None and route.targets[0].deployment.model == "gpt-4o"


def test_env_reference_missing_names_the_path() -> None:
    text = '[providers.o]\nplugin = "openai"\nsettings = { api_key = "env:NOPE_KEY" }\n'
    with pytest.raises(ConfigError) as exc:
        parse_settings(text, {}, "x.toml")
    assert "$.providers.o.settings.api_key" in str(exc.value)
    assert "NOPE_KEY" in str(exc.value)


def test_environment_is_injected_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAK_KEY", "from-os-environ")
    text = '[auth]\nadmin_token = "env:LEAK_KEY"\n'
    assert parse_settings(text, {"LEAK_KEY": "injected"}).auth.admin_token == "injected"
    with pytest.raises(ConfigError):
        parse_settings(text, {})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[server]\nport = 'x'\n", "$.server.port"),
        ("[server]\nprot = 1\n", "prot"),
        ("[state]\nbackend = 'mongo'\n", "$.state.backend"),
        ("[routes.a]\ndeployments = ['nope']\n", "routes.a.deployments[0]"),
        ("[routes.a]\ndeployments = ['ghost/m']\n", "unknown provider 'ghost'"),
        ("[routes.a]\ndeployments = []\n", "routes.a.deployments"),
        ("this is = = not toml", "invalid TOML"),
    ],
)
def test_bad_files_name_the_field(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(text, {}, "bad.toml")
    assert needle in str(exc.value)
    assert str(exc.value).startswith("bad.toml")


def test_plugin_settings_are_validated() -> None:
    text = '[providers.e]\nplugin = "echo"\nsettings = { delay_ms = "slow" }\n'
    s = parse_settings(text, {}, "p.toml")
    from router_core.discovery import PluginError

    with pytest.raises(PluginError) as exc:
        load_providers(s)
    assert "providers.e.settings.delay_ms" in str(exc.value)


def test_config_path_precedence() -> None:
    assert config_path("a.toml", {"VIBEROUTER_CONFIG": "b.toml"}) == "a.toml"
    assert config_path(None, {"VIBEROUTER_CONFIG": "b.toml"}) == "b.toml"
    assert config_path(None, {}) == "config/viberouter.toml"


def test_unreadable_file() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings("/nonexistent/vr.toml", {})
    assert "cannot read config file" in str(exc.value)


def test_model_overrides_and_added_models() -> None:
    text = """
[providers.local]
plugin = "openai"
settings = { base_url = "http://127.0.0.1:1/v1" }
expose_models = true
[providers.local.models."llama3"]
upstream_id = "meta-llama/Llama-3-8B"
context_length = 8192
pricing = { prompt_per_mtok = 0.1, completion_per_mtok = 0.2 }
[providers.local.models."gpt-4o"]
context_length = 1000
"""
    s = parse_settings(text, {})
    catalog = Catalog(s, load_providers(s))
    llama = catalog.resolve("local/llama3")
    assert llama is not None
    assert llama.targets[0].deployment.model == "meta-llama/Llama-3-8B"
    assert llama.card.context_length == 8192 and llama.card.pricing.completion_per_mtok == 0.2
    gpt = catalog.resolve("local/gpt-4o")
    assert gpt is not None and gpt.card.context_length == 1000
    assert gpt.card.max_output_tokens > 0  # the rest of the plugin's card is kept
