"""Render a :class:`ReplyPlan` in the OpenAI wire format: a completion, stream chunks,
error bodies. This is the upstream side; nothing here knows about the router."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from router_core.plugin_api import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    FunctionCall,
    FunctionDelta,
    ResponseMessage,
    ToolCall,
    ToolCallDelta,
    Usage,
    json_encode,
)
from viberouter_echo.reply import ReplyPlan

Finish = Literal["stop", "length", "tool_calls"]
SSE_DONE = b"data: [DONE]\n\n"
# Error-type names OpenAI uses for each status (its `type` field); 5xx are server errors.
_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


def usage_of(plan: ReplyPlan) -> Usage:
    """The deterministic token counts of a plan."""
    completion = plan.completion_tokens
    return Usage(
        prompt_tokens=plan.prompt_tokens,
        completion_tokens=completion,
        total_tokens=plan.prompt_tokens + completion,
    )


def completion(plan: ReplyPlan, *, cid: str, created: int, model: str) -> ChatCompletion:
    """The non-streamed answer."""
    calls = [
        ToolCall(id=c.id, function=FunctionCall(name=c.name, arguments=c.arguments))
        for c in plan.tool_calls
    ]
    message = ResponseMessage(content=plan.content)
    if calls:
        message = ResponseMessage(content=None, tool_calls=calls)
    choices = [
        Choice(index=i, message=message, finish_reason=plan.finish_reason) for i in range(plan.n)
    ]
    return ChatCompletion(
        id=cid, created=created, model=model, choices=choices, usage=usage_of(plan)
    )


def stream_chunks(
    plan: ReplyPlan, *, cid: str, created: int, model: str, max_steps: int | None = None
) -> Iterator[ChatCompletionChunk]:
    """The streamed answer, role chunks first, then the token steps (choices interleaved),
    the finish chunks and the usage chunk. With ``max_steps`` the stream stops after that
    many token steps, without finish or usage (for the mid-stream error directive)."""

    def chunk(index: int, delta: Delta, finish: Finish | None = None) -> ChatCompletionChunk:
        choice = ChunkChoice(index=index, delta=delta, finish_reason=finish)
        return ChatCompletionChunk(id=cid, created=created, model=model, choices=[choice])

    for i in range(plan.n):
        if plan.tool_calls:
            yield chunk(i, Delta(role="assistant", content=None))
        else:
            yield chunk(i, Delta(role="assistant", content="", refusal=None))
    steps = list(_token_steps(plan))
    for step_no, delta in enumerate(steps):
        if max_steps is not None and step_no >= max_steps:
            return
        for i in range(plan.n):
            yield chunk(i, delta)
    if max_steps is not None:
        return
    for i in range(plan.n):
        yield chunk(i, Delta(), plan.finish_reason)
    yield ChatCompletionChunk(
        id=cid, created=created, model=model, choices=[], usage=usage_of(plan)
    )


def _token_steps(plan: ReplyPlan) -> Iterator[Delta]:
    for k, call in enumerate(plan.tool_calls):
        head = ToolCallDelta(
            index=k,
            id=call.id,
            type="function",
            function=FunctionDelta(name=call.name, arguments=""),
        )
        yield Delta(tool_calls=[head])
        for fragment in call.fragments:
            part = ToolCallDelta(index=k, function=FunctionDelta(arguments=fragment))
            yield Delta(tool_calls=[part])
    if not plan.tool_calls:
        for token in plan.tokens:
            yield Delta(content=token)


def sse_event(chunk: ChatCompletionChunk) -> bytes:
    """One ``data: {...}`` event with its blank line."""
    return b"data: " + json_encode(chunk) + b"\n\n"


def error_body(status: int, message: str) -> bytes:
    """An OpenAI error envelope for an HTTP ``status``."""
    fallback = ("server_error" if status >= 500 else "invalid_request_error", None)
    kind, code = _ERROR_TYPES.get(status, fallback)
    return json_encode({"error": {"message": message, "type": kind, "param": None, "code": code}})


def error_event(message: str) -> bytes:
    """An in-band error event, as OpenAI sends one after the stream has started."""
    payload = {"error": {"message": message, "type": "server_error", "code": None}}
    return b"data: " + json_encode(payload) + b"\n\n"
