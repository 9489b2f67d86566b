"""A non-streamed OpenAI-compatible body -> the canonical ChatCompletion."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    Choice,
    FunctionCall,
    ModelError,
    ResponseMessage,
    ToolCall,
    new_completion_id,
    new_tool_call_id,
    now,
)
from viberouter_openai import wire
from viberouter_openai.errors import error_for, fault_from_payload


def parse_completion(body: bytes, fallback_model: str) -> ChatCompletion:
    """Decode tolerantly (leading whitespace, null fields, argument objects); raise
    ``ModelError`` for garbage or no choices, the mapped error for an ``error`` body."""
    try:
        up = wire.completion_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed response", detail=f"{exc}: {body[:300]!r}"
        ) from exc
    if up.error:
        raise error_for(None, fault_from_payload(up.error), {})
    if not up.choices:
        raise ModelError(
            "The model provider sent an answer without choices", detail=repr(body[:300])
        )
    return ChatCompletion(
        id=up.id or new_completion_id(),
        created=int(up.created) or now(),
        model=up.model or fallback_model,
        choices=[_choice(c) for c in up.choices],
        usage=wire.usage(up.usage) if up.usage is not None else msgspec.UNSET,
        system_fingerprint=up.system_fingerprint,
        service_tier=up.service_tier,
    )


def _choice(up: wire.UpChoice) -> Choice:
    message = up.message or wire.UpMessage()
    reasoning = message.reasoning_content or message.reasoning or msgspec.UNSET
    calls = [
        ToolCall(
            id=call.id or new_tool_call_id(),
            function=FunctionCall(
                name=(call.function.name if call.function else None) or "",
                # a call with no argument text at all means "no arguments"
                arguments=wire.arguments_text(call.function.arguments if call.function else None)
                or "{}",
            ),
        )
        for call in message.tool_calls or ()
    ]
    return Choice(
        index=up.index,
        message=ResponseMessage(
            content=_content(message.content),
            tool_calls=calls or msgspec.UNSET,
            refusal=message.refusal,
            reasoning_content=reasoning,
            reasoning=reasoning,
            reasoning_details=message.reasoning_details or msgspec.UNSET,
        ),
        logprobs=up.logprobs,
        finish_reason=wire.finish_reason(up.finish_reason, had_tool_calls=bool(calls)),
    )


def _content(content: str | list[object] | None) -> str | None:
    if content is None or isinstance(content, str):
        return content
    # Some servers answer with content parts; only text parts carry assistant text.
    texts = [
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") == "text"
        and isinstance(part.get("text"), str)
    ]
    return "".join(texts)
