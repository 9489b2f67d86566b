"""The echo plugin's contract surface: entry point, settings, cards, request building."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import msgspec
import pytest
from viberouter_echo import EchoProvider, EchoSettings

from router_core.plugin_api import ProviderPlugin, UpstreamRequest, contract_compatible
from router_core.plugin_testing import decode_request, deployment_for, read_body


def test_echo_entry_point_loads_the_provider() -> None:
    (entry,) = [e for e in entry_points(group="viberouter.providers") if e.name == "echo"]
    cls = entry.load()
    assert cls is EchoProvider
    assert issubclass(cls, ProviderPlugin)
    assert cls.contract_version == (2, 5)  # written for 2.5 (free cards), loads on any 2.x >= 2.5
    assert contract_compatible(cls.contract_version)
    assert cls.settings_type is EchoSettings


def test_echo_settings_defaults_and_typos() -> None:
    settings = msgspec.convert({}, EchoSettings)
    assert (settings.delay_ms, settings.models) == (0.0, ["echo-1"])
    with pytest.raises(msgspec.ValidationError, match="dealy_ms"):
        msgspec.convert({"dealy_ms": 5}, EchoSettings)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"delay_ms": -1}, EchoSettings)


def test_echo_model_cards() -> None:
    cards = EchoProvider(EchoSettings(models=["echo-1", "echo-2"])).models()
    assert [c.id for c in cards] == ["echo-1", "echo-2"]
    card = cards[0]
    assert (card.context_length, card.max_output_tokens, card.owned_by) == (
        32768,
        4096,
        "viberouter",
    )
    assert card.pricing.prompt_per_mtok == card.pricing.completion_per_mtok == 0.0
    caps = card.capabilities
    assert caps.tools and caps.streaming and caps.json_mode


def test_echo_build_request(echo_data: Path) -> None:
    provider = EchoProvider()
    req = decode_request((echo_data / "echo_request_text.json").read_bytes())
    built = provider.build_request(req, deployment_for(provider))
    assert (built.method, built.url, built.framing) == (
        "POST",
        "local://echo/chat/completions",
        "sse",
    )
    assert built.headers == {"content-type": "application/json"}
    body = json.loads(built.body)
    assert body["model"] == "echo-1"
    assert "models" not in body
    assert (
        body["messages"]
        == json.loads((echo_data / "echo_request_text.json").read_bytes())["messages"]
    )
    plain = msgspec.structs.replace(req, stream=False)
    assert provider.build_request(plain, deployment_for(provider)).framing == "json"


async def test_echo_local_upstream_refuses_other_urls_and_bad_bodies() -> None:
    provider = EchoProvider()
    wrong = UpstreamRequest("POST", "local://echo/completions", {}, b"{}", "json")
    assert provider.serve_local(wrong).status == 404
    garbage = UpstreamRequest("POST", "local://echo/chat/completions", {}, b"{", "json")
    response = provider.serve_local(garbage)
    assert response.status == 400
    assert json.loads(await read_body(response))["error"]["type"] == "invalid_request_error"
