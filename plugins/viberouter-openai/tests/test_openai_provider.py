"""The OpenAI plugin's contract surface: entry point, settings, extras, model cards."""

from __future__ import annotations

from importlib.metadata import entry_points

import msgspec
import pytest
from viberouter_openai import OpenAIExtras, OpenAIProvider, OpenAISettings

from router_core.plugin_api import ProviderPlugin


def test_openai_entry_point_loads_the_provider() -> None:
    (entry,) = [e for e in entry_points(group="viberouter.providers") if e.name == "openai"]
    cls = entry.load()
    assert cls is OpenAIProvider
    assert issubclass(cls, ProviderPlugin)
    assert cls.contract_version == (2, 8)
    assert (cls.settings_type, cls.extra_params) == (OpenAISettings, OpenAIExtras)


def test_openai_settings_defaults_and_typos() -> None:
    settings = msgspec.convert({}, OpenAISettings)
    assert settings.base_url == "https://api.openai.com/v1"
    assert (settings.api_key, settings.headers, settings.models) == (None, {}, None)
    with pytest.raises(msgspec.ValidationError, match="base_ulr"):
        msgspec.convert({"base_ulr": "http://x"}, OpenAISettings)


def test_openai_extras_are_decoded_from_a_request_body() -> None:
    raw = b'{"model":"m","messages":[],"top_k":40,"min_p":0.1,"temperature":1}'
    extras = msgspec.json.decode(raw, type=OpenAIExtras)
    assert (extras.top_k, extras.min_p, extras.repetition_penalty) == (40, 0.1, None)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"min_p": 3}', type=OpenAIExtras)


def test_openai_default_cards() -> None:
    cards = {c.id: c for c in OpenAIProvider().models()}
    assert {"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3", "o4-mini"} <= set(cards)
    card = cards["gpt-4o"]
    assert (card.context_length, card.max_output_tokens, card.owned_by) == (
        128_000,
        16_384,
        "openai",
    )
    assert (card.pricing.prompt_per_mtok, card.pricing.completion_per_mtok) == (2.5, 10.0)
    assert card.capabilities.tools and card.capabilities.vision and card.capabilities.json_mode
    chat = [c for c in cards.values() if not c.capabilities.embeddings]
    assert all(c.pricing.completion_per_mtok >= c.pricing.prompt_per_mtok for c in chat)
    # Embedding cards bill input only, at the embedding price.
    assert {c.id for c in cards.values() if c.capabilities.embeddings} == {
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    }


def test_openai_models_setting_limits_the_cards() -> None:
    provider = OpenAIProvider(OpenAISettings(models=["gpt-4o-mini", "llama-3.1-8b"], owned_by="me"))
    cards = provider.models()
    assert [c.id for c in cards] == ["gpt-4o-mini", "llama-3.1-8b"]
    assert cards[0].pricing.prompt_per_mtok == 0.15
    generic = cards[1]
    assert generic.pricing.prompt_per_mtok == 0.0 and generic.capabilities.tools
    assert {c.owned_by for c in cards} == {"me"}
