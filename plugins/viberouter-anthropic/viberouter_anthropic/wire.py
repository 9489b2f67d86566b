"""Anthropic Messages API wire types (msgspec Structs), request and response side.

Request types are exact (we only send what we declare). Response and stream types
are deliberately loose: Anthropic adds block types, delta types and fields over
time, and an unknown one must be ignored rather than fail the decode.
"""

from __future__ import annotations

from typing import Any, Literal

from msgspec import UNSET, Struct, UnsetType, field

# ---------------------------------------------------------------- request blocks


class CacheControlParam(Struct):
    """A prompt-cache breakpoint on a block or tool (``ttl`` 5m | 1h)."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: str | UnsetType = UNSET


class TextBlock(Struct, tag="text", tag_field="type"):
    """A text content block (never sent with empty ``text``)."""

    text: str
    cache_control: CacheControlParam | UnsetType = UNSET


class Base64Source(Struct, tag="base64", tag_field="type"):
    """Inline image bytes."""

    media_type: str
    data: str


class UrlSource(Struct, tag="url", tag_field="type"):
    """An image Anthropic fetches itself."""

    url: str


class ImageBlock(Struct, tag="image", tag_field="type"):
    """An image content block."""

    source: Base64Source | UrlSource
    cache_control: CacheControlParam | UnsetType = UNSET


class ToolUseBlock(Struct, tag="tool_use", tag_field="type"):
    """A tool call made by the assistant; ``input`` is a JSON object."""

    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControlParam | UnsetType = UNSET


class ToolResultBlock(Struct, tag="tool_result", tag_field="type", omit_defaults=True):
    """The result of one tool call; must follow its tool_use immediately."""

    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    cache_control: CacheControlParam | UnsetType = UNSET


class ThinkingBlockParam(Struct, tag="thinking", tag_field="type"):
    """A thinking block replayed unmodified (its ``signature`` is what Anthropic checks)."""

    thinking: str
    signature: str


class RedactedThinkingBlockParam(Struct, tag="redacted_thinking", tag_field="type"):
    """Encrypted thinking replayed unmodified."""

    data: str


RequestBlock = (
    TextBlock
    | ImageBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlockParam
    | RedactedThinkingBlockParam
)


class MessageParam(Struct):
    """One turn of the conversation (roles strictly alternate, user first)."""

    role: Literal["user", "assistant"]
    content: list[RequestBlock]


class ToolParam(Struct, omit_defaults=True):
    """A client tool definition."""

    name: str
    input_schema: dict[str, Any]
    description: str | UnsetType = UNSET
    cache_control: CacheControlParam | UnsetType = UNSET


class ToolChoiceParam(Struct, omit_defaults=True):
    """``auto`` / ``any`` / ``tool`` (with ``name``) / ``none``."""

    type: Literal["auto", "any", "tool", "none"]
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class MetadataParam(Struct):
    """Request metadata; ``user_id`` is an opaque end-user id."""

    user_id: str


class ThinkingParam(Struct):
    """Extended thinking switch: ``enabled`` with a budget, ``disabled``, ``adaptive``."""

    budget_tokens: int | UnsetType = UNSET
    type: Literal["enabled", "disabled", "adaptive"] = "enabled"


class OutputFormatParam(Struct):
    """Native structured output: the answer's text is JSON valid against ``schema``."""

    schema: dict[str, Any]
    type: Literal["json_schema"] = "json_schema"


class OutputConfigParam(Struct, omit_defaults=True):
    """``output_config`` (structured outputs, GA)."""

    format: OutputFormatParam | UnsetType = UNSET


class MessagesRequest(Struct, omit_defaults=True):
    """``POST /v1/messages`` body, fields in the order we send them."""

    model: str
    max_tokens: int
    messages: list[MessageParam]
    system: list[TextBlock] | UnsetType = UNSET
    tools: list[ToolParam] | UnsetType = UNSET
    tool_choice: ToolChoiceParam | UnsetType = UNSET
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    metadata: MetadataParam | UnsetType = UNSET
    thinking: ThinkingParam | UnsetType = UNSET
    output_config: OutputConfigParam | UnsetType = UNSET
    stream: bool | UnsetType = UNSET


# ---------------------------------------------------------------- responses


class ResponseBlock(Struct):
    """Any content block of a response (unknown types keep only ``type``)."""

    type: str
    text: str = ""
    id: str = ""
    name: str = ""
    input: Any = None
    thinking: str = ""
    signature: str = ""
    data: str = ""


class CacheCreation(Struct):
    """``usage.cache_creation``: the cache writes split by TTL (they add up to
    ``cache_creation_input_tokens``)."""

    ephemeral_5m_input_tokens: int | None = None
    ephemeral_1h_input_tokens: int | None = None


class AnthropicUsage(Struct):
    """Usage as Anthropic reports it; ``input_tokens`` excludes cache reads/writes."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation: CacheCreation | None = None


class MessageResponse(Struct):
    """A non-streaming Messages API response (also ``message_start.message``)."""

    id: str = ""
    model: str = ""
    content: list[ResponseBlock] = field(default_factory=list)
    stop_reason: str | None = None
    usage: AnthropicUsage = field(default_factory=AnthropicUsage)


class ErrorInfo(Struct):
    """``error`` object of the envelope ``{"type":"error","error":{...}}``."""

    type: str = ""
    message: str = ""


class ErrorEnvelope(Struct):
    """An error body, or the payload of an in-stream ``error`` event."""

    error: ErrorInfo = field(default_factory=ErrorInfo)


# ---------------------------------------------------------------- stream events


class EventType(Struct):
    """Just the ``type`` of an event, for events that arrive without ``event:``."""

    type: str = ""


class MessageStart(Struct):
    """``message_start``."""

    message: MessageResponse


class ContentBlockStart(Struct):
    """``content_block_start``."""

    index: int
    content_block: ResponseBlock


class BlockDelta(Struct):
    """The ``delta`` of ``content_block_delta`` (text, input_json, thinking, ...)."""

    type: str
    text: str = ""
    partial_json: str = ""
    thinking: str = ""
    signature: str = ""


class ContentBlockDelta(Struct):
    """``content_block_delta``."""

    index: int
    delta: BlockDelta


class ContentBlockStop(Struct):
    """``content_block_stop``."""

    index: int


class MessageDeltaBody(Struct):
    """The ``delta`` of ``message_delta``."""

    stop_reason: str | None = None


class MessageDelta(Struct):
    """``message_delta``: final stop reason and cumulative usage."""

    delta: MessageDeltaBody = field(default_factory=MessageDeltaBody)
    usage: AnthropicUsage = field(default_factory=AnthropicUsage)
