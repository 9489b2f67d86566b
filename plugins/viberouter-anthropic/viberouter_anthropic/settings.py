"""Config of one Anthropic provider instance, and the request extras it honours."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field


class AnthropicSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``settings`` table of an ``plugin = "anthropic"`` provider in config.

    ``api_key`` arrives already resolved (config says ``env:ANTHROPIC_API_KEY``);
    ``None`` sends no ``x-api-key`` header (for a gateway in front that adds its own).
    """

    base_url: str = "https://api.anthropic.com"
    api_key: str | None = None
    anthropic_version: str = "2023-06-01"
    #: beta feature names, sent comma-joined as ``anthropic-beta``.
    beta: list[str] = field(default_factory=list)
    #: extra HTTP headers; they override the defaults above (operator's choice).
    headers: dict[str, str] = field(default_factory=dict)


class NativeThinking(Struct, kw_only=True):
    """Anthropic's own ``thinking`` object, given on a chat request."""

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Meta(ge=1024)] | None = None


class AnthropicExtras(Struct, kw_only=True):
    """Request fields beyond the OpenAI API that this provider honours."""

    top_k: Annotated[int, Meta(ge=1)] | None = None
    #: enables extended thinking with this token budget (must be below max_tokens).
    thinking_budget: Annotated[int, Meta(ge=1024)] | None = None
    #: Anthropic's ``thinking`` object as is (wins over every other reasoning field).
    thinking: NativeThinking | None = None


__all__ = ["AnthropicExtras", "AnthropicSettings", "NativeThinking"]
