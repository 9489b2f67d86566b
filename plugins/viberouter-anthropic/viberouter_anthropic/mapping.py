"""Field mappings shared by the non-streaming and streaming translators."""

from __future__ import annotations

from typing import Literal

from router_core.plugin_api import PromptTokensDetails, ReasoningDetail, Usage

from .messages import REASONING_FORMAT
from .wire import AnthropicUsage, CacheCreation

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
    if Anthropic said ``end_turn``; ``length`` and ``content_filter`` always win. A
    ``tool_use`` stop without client tool calls is the structured-output answer tool
    (``structured.py``): the client got text, so ``stop``.
    """
    reason = _FINISH_REASONS.get(stop_reason or "", "stop")
    if reason in ("stop", "tool_calls"):
        return "tool_calls" if made_tool_calls else "stop"
    return reason


def text_detail(
    index: int, text: str | None = None, signature: str | None = None
) -> ReasoningDetail:
    """A ``reasoning.text`` detail of Anthropic thinking (text and/or signature)."""
    detail = ReasoningDetail(type="reasoning.text", format=REASONING_FORMAT, index=index)
    if text is not None:
        detail.text = text
    if signature is not None:
        detail.signature = signature
    return detail


def redacted_detail(index: int, data: str) -> ReasoningDetail:
    """A ``reasoning.encrypted`` detail of a ``redacted_thinking`` block."""
    return ReasoningDetail(
        type="reasoning.encrypted", data=data, format=REASONING_FORMAT, index=index
    )


#: Usage without ``cache_creation`` (older API versions, fakes): every write 5-minute.
_NO_SPLIT = CacheCreation()


def usage_from(usage: AnthropicUsage) -> Usage:
    """OpenAI usage: prompt = input + cache reads + cache writes (Anthropic's
    ``input_tokens`` excludes both); completion = output (includes thinking). Writes
    with the one-hour TTL (priced higher) are ``cache_write_1h_tokens``, set only
    when there are some."""
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_creation_input_tokens or 0
    prompt = (usage.input_tokens or 0) + cache_read + cache_write
    completion = usage.output_tokens or 0
    details = PromptTokensDetails(cached_tokens=cache_read, cache_write_tokens=cache_write)
    one_hour = (usage.cache_creation or _NO_SPLIT).ephemeral_1h_input_tokens or 0
    if one_hour > 0:
        details.cache_write_1h_tokens = min(one_hour, cache_write)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=details,
    )


def merge_usage(into: AnthropicUsage, update: AnthropicUsage) -> None:
    """Overlay the counts ``update`` carries (stream counts are cumulative, so the
    latest value wins; absent ones keep the earlier value)."""
    for name in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
    ):
        value = getattr(update, name)
        if value is not None:
            setattr(into, name, value)


__all__ = [
    "FinishReason",
    "finish_reason",
    "merge_usage",
    "redacted_detail",
    "text_detail",
    "usage_from",
]
