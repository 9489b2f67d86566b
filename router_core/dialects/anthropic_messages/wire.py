"""Anthropic Messages API wire types as a client speaks them (msgspec Structs).

Request side: deliberately loose about content blocks. One ``Block`` Struct holds the
fields of every block type, so a block type this router does not translate still
decodes (native pass-through never looks at it) and translation refuses it by name
instead of failing the whole decode. Response and event side: exact, field order as
Anthropic sends it, so encoders write the same bytes Anthropic would.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

# ---------------------------------------------------------------- request


class CacheControl(Struct, omit_defaults=True):
    """A prompt-cache breakpoint (``ephemeral``, optional ``ttl`` 5m | 1h)."""

    type: str = "ephemeral"
    ttl: str | UnsetType = UNSET


class Source(Struct, omit_defaults=True):
    """An image or document source: ``base64`` / ``url`` / ``file`` / ``text`` / ``content``."""

    type: str
    media_type: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    url: str | UnsetType = UNSET
    file_id: str | UnsetType = UNSET
    content: Any = UNSET


class Block(Struct, omit_defaults=True):
    """Any request content block; ``type`` says which of the fields apply."""

    type: str
    text: str | UnsetType = UNSET
    source: Source | str | UnsetType = UNSET  # a string for search_result blocks
    id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    input: Any = UNSET
    tool_use_id: str | UnsetType = UNSET
    content: str | list[Block] | UnsetType = UNSET
    is_error: bool | UnsetType = UNSET
    thinking: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    title: str | None | UnsetType = UNSET
    context: str | None | UnsetType = UNSET
    citations: Any = UNSET
    cache_control: CacheControl | None | UnsetType = UNSET


class MessageParam(Struct):
    """One conversation turn."""

    role: Literal["user", "assistant"]
    content: str | list[Block]


class ToolParam(Struct, omit_defaults=True):
    """A tool definition: custom (``input_schema``) or a versioned server tool (``type``)."""

    name: Annotated[str, Meta(min_length=1)]
    type: str | None | UnsetType = UNSET
    description: str | UnsetType = UNSET
    input_schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | UnsetType = UNSET
    cache_control: CacheControl | None | UnsetType = UNSET


class ToolChoiceParam(Struct, omit_defaults=True):
    """``auto`` / ``any`` / ``tool`` (with ``name``) / ``none``."""

    type: Literal["auto", "any", "tool", "none"]
    name: str | UnsetType = UNSET
    disable_parallel_tool_use: bool | UnsetType = UNSET


class ThinkingParam(Struct, omit_defaults=True):
    """Extended thinking: ``enabled`` with a budget, ``adaptive`` or ``disabled``."""

    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[int, Meta(ge=1)] | UnsetType = UNSET
    display: str | UnsetType = UNSET


class OutputFormat(Struct, omit_defaults=True):
    """Structured output: ``{"type": "json_schema", "schema": {...}}``."""

    type: str
    schema: dict[str, Any] | UnsetType = UNSET


class OutputConfig(Struct, omit_defaults=True):
    """``output_config``: effort and structured output format."""

    effort: str | UnsetType = UNSET
    format: OutputFormat | None | UnsetType = UNSET


class Metadata(Struct, omit_defaults=True):
    """Request metadata; ``user_id`` is an opaque end-user id."""

    user_id: str | None | UnsetType = UNSET


Unit = Annotated[float, Meta(ge=0, le=1)]


class MessagesRequest(Struct, omit_defaults=True):
    """``POST /v1/messages`` (and ``/count_tokens``, where ``max_tokens`` is absent)."""

    model: Annotated[str, Meta(min_length=1, max_length=256)]
    messages: list[MessageParam]
    max_tokens: Annotated[int, Meta(ge=1)] | UnsetType = UNSET
    system: str | list[Block] | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    stream: bool = False
    temperature: Unit | UnsetType = UNSET
    top_p: Unit | UnsetType = UNSET
    top_k: Annotated[int, Meta(ge=0)] | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET
    tools: list[ToolParam] | UnsetType = UNSET
    tool_choice: ToolChoiceParam | UnsetType = UNSET
    thinking: ThinkingParam | UnsetType = UNSET
    service_tier: str | UnsetType = UNSET
    output_config: OutputConfig | UnsetType = UNSET
    output_format: OutputFormat | None | UnsetType = UNSET
    context_management: Any = UNSET
    cache_control: CacheControl | None | UnsetType = UNSET
    container: Any = UNSET
    mcp_servers: Any = UNSET


# ---------------------------------------------------------------- response
# Output types never omit defaults: Anthropic always sends "stop_sequence": null etc.


class TextOut(Struct, tag="text", tag_field="type"):
    """A text block of a response (``text`` is ``""`` in ``content_block_start``)."""

    text: str


class ThinkingOut(Struct, tag="thinking", tag_field="type"):
    """A thinking block; translated upstreams have no signature to give (``""``)."""

    thinking: str
    signature: str = ""


class ToolUseOut(Struct, tag="tool_use", tag_field="type"):
    """A tool call; ``input`` is a JSON object (``{}`` in ``content_block_start``)."""

    id: str
    name: str
    input: dict[str, Any]


ContentOut = TextOut | ThinkingOut | ToolUseOut


class UsageOut(Struct):
    """Usage in Anthropic's fields: ``input_tokens`` EXCLUDES cache reads and writes."""

    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0


StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"]


class MessageOut(Struct):
    """A Messages API response (also ``message_start.message``, content empty)."""

    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str = ""
    content: list[ContentOut] = field(default_factory=list)
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None
    usage: UsageOut = field(default_factory=UsageOut)


class CountTokensOut(Struct):
    """``POST /v1/messages/count_tokens`` answer."""

    input_tokens: int


# ---------------------------------------------------------------- stream events


class TextDelta(Struct, tag="text_delta", tag_field="type"):
    text: str


class InputJsonDelta(Struct, tag="input_json_delta", tag_field="type"):
    partial_json: str


class ThinkingDelta(Struct, tag="thinking_delta", tag_field="type"):
    thinking: str


class SignatureDelta(Struct, tag="signature_delta", tag_field="type"):
    signature: str


BlockDeltaOut = TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta


class MessageStartEvent(Struct, tag="message_start", tag_field="type"):
    message: MessageOut


class ContentBlockStartEvent(Struct, tag="content_block_start", tag_field="type"):
    index: int
    content_block: ContentOut


class ContentBlockDeltaEvent(Struct, tag="content_block_delta", tag_field="type"):
    index: int
    delta: BlockDeltaOut


class ContentBlockStopEvent(Struct, tag="content_block_stop", tag_field="type"):
    index: int


class MessageDeltaBody(Struct):
    stop_reason: StopReason | None = None
    stop_sequence: str | None = None


class MessageDeltaEvent(Struct, tag="message_delta", tag_field="type"):
    """Final stop reason and CUMULATIVE usage (input and cache counts repeated, as
    newer API versions do, so SDKs overwrite the message_start estimate)."""

    delta: MessageDeltaBody
    usage: UsageOut


class MessageStopEvent(Struct, tag="message_stop", tag_field="type"):
    pass


# ---------------------------------------------------------------- errors


class ErrorDetail(Struct):
    type: str
    message: str


class ErrorOut(Struct, tag="error", tag_field="type", omit_defaults=True):
    """``{"type":"error","error":{"type":...,"message":...}}`` (body and stream event)."""

    error: ErrorDetail
    request_id: str | UnsetType = UNSET


__all__ = [
    "Block",
    "BlockDeltaOut",
    "CacheControl",
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "ContentOut",
    "CountTokensOut",
    "ErrorDetail",
    "ErrorOut",
    "InputJsonDelta",
    "MessageDeltaBody",
    "MessageDeltaEvent",
    "MessageOut",
    "MessageParam",
    "MessageStartEvent",
    "MessageStopEvent",
    "MessagesRequest",
    "Metadata",
    "OutputConfig",
    "OutputFormat",
    "SignatureDelta",
    "Source",
    "StopReason",
    "TextDelta",
    "TextOut",
    "ThinkingDelta",
    "ThinkingOut",
    "ThinkingParam",
    "ToolChoiceParam",
    "ToolParam",
    "ToolUseOut",
    "UsageOut",
]
