"""Canonical completion -> Messages API response: content blocks, stop reason, usage.

Usage: the canonical ``prompt_tokens`` INCLUDES cached tokens (OpenAI's convention);
Anthropic's ``input_tokens`` EXCLUDES cache reads (``cached_tokens``) and cache
writes (``cache_write_tokens``), which get their own fields.

Stop reasons: ``stop`` -> ``end_turn``, ``length`` -> ``max_tokens``, ``tool_calls``
-> ``tool_use``, ``content_filter`` (or a refusal) -> ``refusal``. A translated
upstream does not say whether a stop sequence ended the text, so ``stop_sequence``
is only ever reported by native pass-through.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from router_core.api.chat import ChatCompletion, FinishReason, PromptTokensDetails, ToolCall, Usage
from router_core.dialects.anthropic_messages.wire import (
    ContentOut,
    MessageOut,
    StopReason,
    TextOut,
    ThinkingOut,
    ToolUseOut,
    UsageOut,
)
from router_core.errors import ModelError

_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_input_decoder = msgspec.json.Decoder(dict[str, Any])


def new_message_id() -> str:
    """A fresh ``msg_…`` id."""
    return "msg_" + secrets.token_hex(12)


def new_tool_use_id() -> str:
    """A fresh ``toolu_…`` id for upstreams that give a tool call none."""
    return "toolu_" + secrets.token_hex(12)


def stop_reason(finish: FinishReason | None, *, refused: bool = False) -> StopReason:
    """Anthropic's stop reason for a canonical finish reason."""
    if refused:
        return "refusal"
    return _STOP.get(finish or "stop", "end_turn")


def usage_out(usage: Usage | None, *, input_estimate: int = 0) -> UsageOut:
    """Canonical usage in Anthropic's fields (``input_estimate`` when none is known)."""
    if usage is None:
        return UsageOut(input_tokens=input_estimate)
    cached = written = 0
    details = usage.prompt_tokens_details
    if isinstance(details, PromptTokensDetails):
        cached = details.cached_tokens if isinstance(details.cached_tokens, int) else 0
        written = details.cache_write_tokens if isinstance(details.cache_write_tokens, int) else 0
    return UsageOut(
        input_tokens=max(0, usage.prompt_tokens - cached - written),
        cache_creation_input_tokens=written,
        cache_read_input_tokens=cached,
        output_tokens=usage.completion_tokens,
    )


def tool_input(call: ToolCall) -> dict[str, Any]:
    """A tool call's arguments as the JSON object Anthropic's ``input`` is."""
    args = call.function.arguments
    if not args.strip():
        return {}
    try:
        return _input_decoder.decode(args)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model returned tool arguments that are not a JSON object",
            detail=f"tool call {call.id}: {exc}",
        ) from exc


def to_message(completion: ChatCompletion, *, message_id: str | None = None) -> MessageOut:
    """The Messages API response for a canonical completion (its first choice)."""
    content: list[ContentOut] = []
    finish: FinishReason | None = None
    refused = False
    if completion.choices:
        choice = completion.choices[0]
        msg = choice.message
        finish = choice.finish_reason
        if isinstance(msg.reasoning_content, str) and msg.reasoning_content:
            content.append(ThinkingOut(thinking=msg.reasoning_content))
        if msg.content:
            content.append(TextOut(text=msg.content))
        if msg.refusal:
            refused = True
            content.append(TextOut(text=msg.refusal))
        if isinstance(msg.tool_calls, list):
            content.extend(
                ToolUseOut(id=c.id, name=c.function.name, input=tool_input(c))
                for c in msg.tool_calls
            )
    usage = completion.usage if isinstance(completion.usage, Usage) else None
    return MessageOut(
        id=message_id or new_message_id(),
        model=completion.model,
        content=content,
        stop_reason=stop_reason(finish, refused=refused),
        usage=usage_out(usage),
    )


__all__ = [
    "new_message_id",
    "new_tool_use_id",
    "stop_reason",
    "to_message",
    "tool_input",
    "usage_out",
]
