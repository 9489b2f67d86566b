"""A non-streaming Messages API response -> canonical ``ChatCompletion``."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    Choice,
    FunctionCall,
    ModelError,
    ResponseMessage,
    ToolCall,
    json_encode,
    new_completion_id,
    new_tool_call_id,
    now,
)

from .mapping import finish_reason, usage_from
from .wire import MessageResponse

_response_decoder = msgspec.json.Decoder(MessageResponse)


def decode_message(body: bytes) -> MessageResponse:
    """Decode a Messages API response; garbage raises ``ModelError``."""
    try:
        return _response_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed response", detail=f"anthropic: {exc}"
        ) from exc


def to_completion(message: MessageResponse, fallback_model: str) -> ChatCompletion:
    """Text blocks concatenated (``None`` if there are none), tool_use blocks as tool
    calls with compact JSON arguments, thinking as ``reasoning_content``."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
        elif block.type == "tool_use":
            arguments = json_encode(block.input if block.input is not None else {})
            calls.append(
                ToolCall(
                    id=block.id or new_tool_call_id(),
                    function=FunctionCall(name=block.name, arguments=arguments.decode()),
                )
            )
        # redacted_thinking and server-tool blocks have no OpenAI equivalent.
    reply = ResponseMessage(content="".join(texts) if texts else None)
    if calls:
        reply.tool_calls = calls
    if thoughts:
        reply.reasoning_content = "".join(thoughts)
    return ChatCompletion(
        id=new_completion_id(),
        created=now(),
        model=message.model or fallback_model,
        choices=[
            Choice(
                message=reply,
                finish_reason=finish_reason(message.stop_reason, made_tool_calls=bool(calls)),
            )
        ],
        usage=usage_from(message.usage),
    )


__all__ = ["decode_message", "to_completion"]
