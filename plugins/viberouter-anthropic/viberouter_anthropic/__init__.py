"""VibeRouter provider plugin for the Anthropic Messages API (a pure translator)."""

from __future__ import annotations

from .provider import AnthropicProvider
from .settings import AnthropicExtras, AnthropicSettings
from .stream import AnthropicStreamTranslator

__all__ = [
    "AnthropicExtras",
    "AnthropicProvider",
    "AnthropicSettings",
    "AnthropicStreamTranslator",
]
