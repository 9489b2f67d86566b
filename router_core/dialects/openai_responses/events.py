"""The typed Responses stream events, in OpenAI's field order (``type`` first, then
``sequence_number``), and their SSE framing ``event: <type>\\ndata: <json>\\n\\n``."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct, field

from router_core.dialects.openai_responses.wire import (
    OpenAIErrorDetail,
    OutputItem,
    OutputPart,
    Response,
)


class _Event(Struct, tag_field="type"):
    sequence_number: int


class ResponseCreated(_Event, tag="response.created"):
    response: Response


class ResponseInProgress(_Event, tag="response.in_progress"):
    response: Response


class ResponseCompleted(_Event, tag="response.completed"):
    response: Response


class ResponseIncomplete(_Event, tag="response.incomplete"):
    response: Response


class ResponseFailed(_Event, tag="response.failed"):
    response: Response


class OutputItemAdded(_Event, tag="response.output_item.added"):
    output_index: int
    item: OutputItem


class OutputItemDone(_Event, tag="response.output_item.done"):
    output_index: int
    item: OutputItem


class ContentPartAdded(_Event, tag="response.content_part.added"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputPart


class ContentPartDone(_Event, tag="response.content_part.done"):
    item_id: str
    output_index: int
    content_index: int
    part: OutputPart


class OutputTextDelta(_Event, tag="response.output_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = field(default_factory=list)


class OutputTextDone(_Event, tag="response.output_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = field(default_factory=list)


class RefusalDelta(_Event, tag="response.refusal.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDone(_Event, tag="response.refusal.done"):
    item_id: str
    output_index: int
    content_index: int
    refusal: str


class ReasoningTextDelta(_Event, tag="response.reasoning_text.delta"):
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ReasoningTextDone(_Event, tag="response.reasoning_text.done"):
    item_id: str
    output_index: int
    content_index: int
    text: str


class FunctionCallArgumentsDelta(_Event, tag="response.function_call_arguments.delta"):
    item_id: str
    output_index: int
    delta: str


class FunctionCallArgumentsDone(_Event, tag="response.function_call_arguments.done"):
    item_id: str
    output_index: int
    name: str
    arguments: str


class CustomToolCallInputDelta(_Event, tag="response.custom_tool_call_input.delta"):
    item_id: str
    output_index: int
    delta: str


class CustomToolCallInputDone(_Event, tag="response.custom_tool_call_input.done"):
    item_id: str
    output_index: int
    input: str


class ErrorEvent(_Event, tag="error"):
    """Mid-stream failure. OpenAI's recorded traffic nests the error under ``error``
    while the SDKs' event type is flat (``code``, ``message``, ``param``); both are sent
    so either reader finds it (the Python SDK raises on the truthy ``error`` key)."""

    code: str | None
    message: str
    param: str | None
    error: OpenAIErrorDetail


Event = (
    ResponseCreated | ResponseInProgress | ResponseCompleted | ResponseIncomplete
    | ResponseFailed | OutputItemAdded | OutputItemDone | ContentPartAdded | ContentPartDone
    | OutputTextDelta | OutputTextDone | RefusalDelta | RefusalDone | ReasoningTextDelta
    | ReasoningTextDone | FunctionCallArgumentsDelta | FunctionCallArgumentsDone
    | CustomToolCallInputDelta | CustomToolCallInputDone | ErrorEvent
)  # fmt: skip

_encode = msgspec.json.Encoder().encode


def frame(event: Event) -> bytes:
    """One SSE frame: the ``event:`` line names the type, ``data:`` holds the JSON."""
    tag = type(event).__struct_config__.tag
    return b"event: " + str(tag).encode() + b"\ndata: " + _encode(event) + b"\n\n"


__all__ = [
    "ContentPartAdded",
    "ContentPartDone",
    "CustomToolCallInputDelta",
    "CustomToolCallInputDone",
    "ErrorEvent",
    "Event",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "OutputItemAdded",
    "OutputItemDone",
    "OutputTextDelta",
    "OutputTextDone",
    "ReasoningTextDelta",
    "ReasoningTextDone",
    "RefusalDelta",
    "RefusalDone",
    "ResponseCompleted",
    "ResponseCreated",
    "ResponseFailed",
    "ResponseInProgress",
    "ResponseIncomplete",
    "frame",
]
