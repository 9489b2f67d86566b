"""Field mappings shared by the non-streaming and streaming translators."""

from __future__ import annotations

from typing import Literal

from router_core.plugin_api import PromptTokensDetails, Usage

from .wire import AnthropicUsage

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

_FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None, *, made_tool_calls: bool) -> FinishReason:
    """OpenAI ``finish_reason`` for an Anthropic ``stop_reason`` (null/unknown -> stop).

    A turn that produced tool calls and stopped normally reports ``tool_calls`` even
    if Anthropic said ``end_turn``; ``length`` and ``content_filter`` always win.
    """
    reason = _FINISH_REASONS.get(stop_reason or "", "stop")
    if reason == "stop" and made_tool_calls:
        return "tool_calls"
    return reason


def usage_from(usage: AnthropicUsage) -> Usage:
    """OpenAI usage: prompt = input + cache reads + cache writes (Anthropic's
    ``input_tokens`` excludes both); completion = output (includes thinking)."""
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    prompt = (usage.input_tokens or 0) + cache_read + cache_write
    completion = usage.output_tokens or 0
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=cache_read, cache_write_tokens=cache_write
        ),
    )


def merge_usage(into: AnthropicUsage, update: AnthropicUsage) -> None:
    """Overlay the counts ``update`` carries (stream counts are cumulative, so the
    latest value wins; absent ones keep the earlier value)."""
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        value = getattr(update, name)
        if value is not None:
            setattr(into, name, value)


__all__ = ["FinishReason", "finish_reason", "merge_usage", "usage_from"]
