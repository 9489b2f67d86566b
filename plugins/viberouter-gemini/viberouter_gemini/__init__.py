"""VibeRouter provider plugin for Google Gemini (``generateContent``)."""

from __future__ import annotations

from .provider import GeminiProvider
from .settings import GeminiExtras, GeminiSettings
from .tool_ids import decode_tool_call_id, encode_tool_call_id

__all__ = [
    "GeminiExtras",
    "GeminiProvider",
    "GeminiSettings",
    "decode_tool_call_id",
    "encode_tool_call_id",
]
