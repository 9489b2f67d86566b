"""Typed configuration of a Gemini provider instance and its request extras."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


class GeminiSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``settings`` table of a ``plugin = "gemini"`` provider in config.

    ``api_key`` is usually written ``"env:GEMINI_API_KEY"``; the core resolves it.
    ``blocked_prompt`` decides what a prompt rejected by Gemini's safety filter
    (``promptFeedback.blockReason``, no candidates) becomes: ``"error"`` raises the
    router's ``content_filter`` error (HTTP 400), ``"empty_choice"`` answers one
    choice with empty content and ``finish_reason: "content_filter"``.
    """

    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    blocked_prompt: Literal["error", "empty_choice"] = "error"


class GeminiExtras(msgspec.Struct, kw_only=True):
    """Request fields beyond the OpenAI API that this provider honours."""

    top_k: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: Gemini 2.5 thinking budget in tokens (0 disables thinking where allowed, -1 dynamic).
    thinking_budget: Annotated[int, msgspec.Meta(ge=-1)] | None = None
    #: Ask for thought summaries; they come back as ``reasoning_content``.
    include_thoughts: bool | None = None
