"""Canonical ChatCompletion -> Responses response object (non-streamed), plus the
parts the stream encoder shares: the request echo, usage and the terminal status."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import msgspec
from msgspec import UNSET

from router_core.api.chat import ChatCompletion, FinishReason, ToolCall, Usage
from router_core.dialects.openai_responses.to_chat import CUSTOM_INPUT
from router_core.dialects.openai_responses.wire import (
    CustomToolCallItem,
    FunctionCallItem,
    IncompleteDetails,
    InputTokensDetails,
    MessageItem,
    OutputItem,
    OutputPart,
    OutputTextPart,
    OutputTokensDetails,
    ReasoningConfig,
    ReasoningItem,
    ReasoningText,
    RefusalPart,
    Response,
    ResponsesRequest,
    ResponseUsage,
    TextConfig,
    TextFormat,
)

#: ``new_id(prefix)`` -> a fresh item or response id (``resp_``, ``msg_``, ``fc_``, ``rs_``).
NewId = Callable[[str], str]
_decode_args = msgspec.json.Decoder(dict[str, Any]).decode


def new_id(prefix: str) -> str:
    """A fresh OpenAI-style id: ``<prefix>_`` + 48 hex digits."""
    return f"{prefix}_{secrets.token_hex(24)}"


def skeleton(req: ResponsesRequest, *, response_id: str, created_at: int) -> Response:
    """The response object before any output: the request's parameters echoed."""
    text = req.text or TextConfig()
    if text.format is UNSET:
        text = TextConfig(format=TextFormat(type="text"), verbosity=text.verbosity)
    return Response(
        id=response_id,
        created_at=created_at,
        status="in_progress",
        instructions=req.instructions,
        max_output_tokens=req.max_output_tokens,
        model=req.model,
        parallel_tool_calls=req.parallel_tool_calls is not False,
        previous_response_id=req.previous_response_id,
        reasoning=req.reasoning or ReasoningConfig(effort=None, summary=None),
        service_tier=req.service_tier,
        store=req.stored,
        temperature=req.temperature,
        text=text,
        tool_choice=req.tool_choice or "auto",
        tools=list(req.tools or ()),
        top_p=req.top_p,
        truncation=req.truncation or "disabled",
        user=req.user,
        metadata=dict(req.metadata or {}),
    )


def response_usage(usage: Usage | None) -> ResponseUsage:
    """Chat usage in Responses' fields (input includes cached, output includes reasoning)."""
    if usage is None:
        return ResponseUsage()
    cached = written = reasoning = 0
    if usage.prompt_tokens_details is not UNSET:
        cached = usage.prompt_tokens_details.cached_tokens or 0
        written = usage.prompt_tokens_details.cache_write_tokens or 0
    if usage.completion_tokens_details is not UNSET:
        reasoning = usage.completion_tokens_details.reasoning_tokens or 0
    return ResponseUsage(
        input_tokens=usage.prompt_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=cached, cache_write_tokens=written),
        output_tokens=usage.completion_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
    )


def finish(response: Response, finish_reason: FinishReason | None, completed_at: int) -> None:
    """Set the terminal status from the chat finish reason."""
    if finish_reason == "length":
        response.status = "incomplete"
        response.incomplete_details = IncompleteDetails(reason="max_output_tokens")
    elif finish_reason == "content_filter":
        response.status = "incomplete"
        response.incomplete_details = IncompleteDetails(reason="content_filter")
    else:
        response.status = "completed"
        response.completed_at = completed_at
    if response.status == "incomplete":
        for item in response.output:
            if not isinstance(item, ReasoningItem):
                item.status = "incomplete"


def call_item(
    call: ToolCall, item_id: str, custom_tools: frozenset[str]
) -> FunctionCallItem | CustomToolCallItem:
    """One chat tool call as a Responses item (a bridged custom tool gets its raw input back)."""
    name, arguments = call.function.name, call.function.arguments
    if name in custom_tools:
        return CustomToolCallItem(
            id=item_id, call_id=call.id, name=name, input=custom_input(arguments)
        )
    return FunctionCallItem(id=item_id, call_id=call.id, name=name, arguments=arguments)


def custom_input(arguments: str) -> str:
    """The raw input of a bridged custom tool call (its one string parameter)."""
    try:
        value = _decode_args(arguments or "{}").get(CUSTOM_INPUT, "")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return arguments
    return value if isinstance(value, str) else arguments


def custom_tool_names(req: ResponsesRequest) -> frozenset[str]:
    """Names of the request's custom (freeform) tools."""
    return frozenset(
        t.name for t in req.tools or () if t.type == "custom" and isinstance(t.name, str)
    )


def from_completion(
    req: ResponsesRequest,
    completion: ChatCompletion,
    *,
    response_id: str,
    created_at: int,
    completed_at: int,
    make_id: NewId = new_id,
) -> Response:
    """The response object for a finished chat completion (first choice). ``model`` stays
    the name the client asked for, as in the stream's events."""
    response = skeleton(req, response_id=response_id, created_at=created_at)
    output: list[OutputItem] = []
    choice = completion.choices[0] if completion.choices else None
    if choice is not None:
        message = choice.message
        if isinstance(message.reasoning_content, str) and message.reasoning_content:
            output.append(
                ReasoningItem(
                    id=make_id("rs"), content=[ReasoningText(text=message.reasoning_content)]
                )
            )
        parts: list[OutputPart] = []
        if message.content:
            parts.append(OutputTextPart(text=message.content))
        if message.refusal:
            parts.append(RefusalPart(refusal=message.refusal))
        if parts:
            output.append(MessageItem(id=make_id("msg"), content=parts))
        custom = custom_tool_names(req)
        for call in message.tool_calls or ():
            output.append(call_item(call, make_id("fc"), custom))
    response.output = output
    usage = completion.usage if isinstance(completion.usage, Usage) else None
    response.usage = response_usage(usage)
    finish(response, choice.finish_reason if choice else None, completed_at)
    return response


__all__ = [
    "NewId",
    "call_item",
    "custom_input",
    "custom_tool_names",
    "finish",
    "from_completion",
    "new_id",
    "response_usage",
    "skeleton",
]
