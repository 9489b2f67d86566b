"""A non-streaming ``generateContent`` body -> ``ChatCompletion``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    Choice,
    ContentFilter,
    FunctionCall,
    ModelError,
    ResponseMessage,
    ToolCall,
    json_encode,
    new_completion_id,
)

from .errors import error_for
from .mapping import finish_reason, logprobs, usage
from .reasoning import signature_detail, thought_detail
from .tool_ids import encode_tool_call_id
from .wire import RESPONSE_DECODER, Candidate, GenerateContentResponse, Part

BlockedPrompt = Literal["error", "empty_choice"]


def decode_response(data: bytes | str) -> GenerateContentResponse:
    """Decode one GenerateContentResponse; garbage is the upstream's fault."""
    try:
        return RESPONSE_DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError("The model provider sent a malformed response", detail=str(exc)) from exc


def completion_id(resp: GenerateContentResponse) -> str:
    """``chatcmpl-<responseId>`` when Gemini gave one, so logs on both sides match."""
    return f"chatcmpl-{resp.response_id}" if resp.response_id else new_completion_id()


def blocked_prompt_error(reason: str) -> ContentFilter:
    """The error for a prompt Gemini refused to answer at all."""
    return ContentFilter(
        "The prompt was blocked by the model provider's content filter",
        detail=f"gemini promptFeedback.blockReason={reason}",
    )


def tool_call(part: Part, new_id: Callable[[], str]) -> ToolCall | None:
    """The OpenAI tool call for a ``functionCall`` part (signature folded into the id)."""
    call = part.function_call
    if isinstance(call, msgspec.UnsetType):
        return None
    signature = part.thought_signature if isinstance(part.thought_signature, str) else None
    upstream_id = call.id if isinstance(call.id, str) else None
    return ToolCall(
        id=encode_tool_call_id(upstream_id, signature, new_id),
        function=FunctionCall(name=call.name, arguments=json_encode(call.args).decode()),
    )


def parse_completion(
    body: bytes,
    model: str,
    *,
    blocked_prompt: BlockedPrompt,
    new_id: Callable[[], str],
    created: int,
) -> ChatCompletion:
    """Translate a 2xx body; raises ContentFilter / ModelError as documented."""
    resp = decode_response(body)
    if resp.error is not None:
        raise error_for(resp.error.code or 500, resp.error, {})
    if resp.candidates:
        choices = [_choice(c, new_id) for c in sorted(resp.candidates, key=lambda c: c.index)]
    elif resp.prompt_feedback is not None and resp.prompt_feedback.block_reason:
        if blocked_prompt == "error":
            raise blocked_prompt_error(resp.prompt_feedback.block_reason)
        choices = [Choice(message=ResponseMessage(content=""), finish_reason="content_filter")]
    else:
        raise ModelError("The model provider sent no candidates", detail=body[:500].decode())
    out = ChatCompletion(
        id=completion_id(resp),
        created=created,
        model=resp.model_version or model,
        choices=choices,
    )
    if resp.usage_metadata is not None:
        out.usage = usage(resp.usage_metadata)
    return out


def _choice(cand: Candidate, new_id: Callable[[], str]) -> Choice:
    text: list[str] = []
    thoughts: list[str] = []
    signatures: list[str] = []
    calls: list[ToolCall] = []
    for part in cand.content.parts if cand.content else []:
        call = tool_call(part, new_id)
        if call is not None:
            calls.append(call)
            continue
        if isinstance(part.text, str):
            (thoughts if part.thought is True else text).append(part.text)
        if isinstance(part.thought_signature, str) and part.thought_signature:
            signatures.append(part.thought_signature)
    message = ResponseMessage(content="".join(text) if text or not calls else None)
    if calls:
        message.tool_calls = calls
    details = [thought_detail(0, "".join(thoughts))] if thoughts else []
    details += [signature_detail(len(details) + k, sig) for k, sig in enumerate(signatures)]
    if thoughts:
        message.reasoning_content = message.reasoning = "".join(thoughts)
    if details:
        message.reasoning_details = details
    return Choice(
        index=cand.index,
        message=message,
        logprobs=logprobs(cand.logprobs_result),
        finish_reason=finish_reason(cand.finish_reason or "STOP", bool(calls)),
    )
