"""Packaging and contract: entry point, settings, model cards, imports."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import msgspec
import pytest
from viberouter_gemini import GeminiExtras, GeminiProvider, GeminiSettings

from router_core.plugin_api import ProviderPlugin

PACKAGE = Path(__file__).parent.parent / "viberouter_gemini"


def test_entry_point_names_the_provider() -> None:
    [ep] = [e for e in entry_points(group="viberouter.providers") if e.name == "gemini"]
    assert ep.load() is GeminiProvider
    assert issubclass(GeminiProvider, ProviderPlugin)
    assert GeminiProvider.contract_version == (2, 5)
    assert GeminiProvider.settings_type is GeminiSettings
    assert GeminiProvider.extra_params is GeminiExtras


def test_settings_defaults_and_typos() -> None:
    settings = msgspec.convert({"api_key": "k", "headers": {"x-a": "b"}}, GeminiSettings)
    assert settings.base_url == "https://generativelanguage.googleapis.com/v1beta"
    assert settings.blocked_prompt == "error"
    with pytest.raises(msgspec.ValidationError, match="api_kye"):
        msgspec.convert({"api_kye": "k"}, GeminiSettings)


def test_model_cards() -> None:
    cards = {c.id: c for c in GeminiProvider().models()}
    assert {
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.0-flash",
    } <= set(cards)
    chat = [c for c in cards.values() if not c.capabilities.embeddings]
    assert len(chat) == len(cards) - 1  # gemini-embedding-001 (test_gemini_embeddings.py)
    for card in chat:
        assert card.context_length >= 1_000_000
        assert card.max_output_tokens >= 8192
        assert card.pricing.prompt_per_mtok > 0
        assert card.pricing.completion_per_mtok > card.pricing.prompt_per_mtok
        assert card.capabilities.tools and card.capabilities.vision and card.capabilities.json_mode
    assert cards["gemini-2.5-pro"].pricing.cost(1_000_000, 0) == pytest.approx(1.25)


def test_plugin_imports_only_plugin_api_from_the_core() -> None:
    allowed = {"router_core.plugin_api"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in {"aiohttp", "requests", "httpx", "socket"}, (path.name, name)
                if top == "router_core":
                    assert name in allowed, (path.name, name)
