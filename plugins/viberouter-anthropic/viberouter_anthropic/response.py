"""A non-streaming Messages API response -> canonical ``ChatCompletion``."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    Choice,
    FunctionCall,
    ModelError,
    ReasoningDetail,
    ResponseMessage,
    ToolCall,
    json_encode,
    new_completion_id,
    new_tool_call_id,
    now,
)

from .mapping import finish_reason, redacted_detail, text_detail, usage_from
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


def to_completion(
    message: MessageResponse,
    fallback_model: str,
    *,
    answer_tool: str | None = None,
    hide_reasoning: bool = False,
) -> ChatCompletion:
    """Text blocks concatenated (``None`` if there are none), tool_use blocks as tool
    calls with compact JSON arguments, the ``answer_tool``'s input (structured output)
    as text. Thinking as ``reasoning_content`` and ``reasoning``, and with its
    signatures (redacted thinking too) as ``reasoning_details``, unless hidden."""
    texts: list[str] = []
    thoughts: list[str] = []
    details: list[ReasoningDetail] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "thinking":
            thoughts.append(block.thinking)
            details.append(text_detail(len(details), block.thinking, block.signature or None))
        elif block.type == "redacted_thinking":
            details.append(redacted_detail(len(details), block.data))
        elif block.type == "tool_use":
            arguments = json_encode(block.input if block.input is not None else {}).decode()
            if answer_tool is not None and block.name == answer_tool:
                texts.append(arguments)
                continue
            calls.append(
                ToolCall(
                    id=block.id or new_tool_call_id(),
                    function=FunctionCall(name=block.name, arguments=arguments),
                )
            )
        # server-tool blocks have no OpenAI equivalent.
    reply = ResponseMessage(content="".join(texts) if texts else None)
    if calls:
        reply.tool_calls = calls
    if thoughts and not hide_reasoning:
        reply.reasoning_content = reply.reasoning = "".join(thoughts)
    if details and not hide_reasoning:
        reply.reasoning_details = details
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
