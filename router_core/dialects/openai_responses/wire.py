"""OpenAI Responses API wire types (``POST /v1/responses``): request, items, the
response object and the typed stream events.

Input items are one flat Struct keyed by ``type`` rather than a tagged union: a
message item may omit ``type`` (it defaults to ``"message"``), and built-in tool items
(``web_search_call`` ...) must decode far enough to be refused by name instead of
failing as "unknown tag". Content parts always carry ``type``, so they are a tagged union.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

# ---------------------------------------------------------------- input parts


class InputText(Struct, tag="input_text", tag_field="type"):
    text: str


class InputImage(Struct, tag="input_image", tag_field="type", omit_defaults=True):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] = "auto"


class InputFile(Struct, tag="input_file", tag_field="type", omit_defaults=True):
    file_data: str | None = None
    file_id: str | None = None
    file_url: str | None = None
    filename: str | None = None


class OutputTextPart(Struct, tag="output_text", tag_field="type"):
    text: str
    annotations: list[Any] = field(default_factory=list)
    logprobs: list[Any] = field(default_factory=list)


class RefusalPart(Struct, tag="refusal", tag_field="type"):
    refusal: str


class SummaryText(Struct, tag="summary_text", tag_field="type"):
    text: str


class ReasoningText(Struct, tag="reasoning_text", tag_field="type"):
    text: str


InputPart = InputText | InputImage | InputFile | OutputTextPart | RefusalPart | ReasoningText


class InputItem(Struct, kw_only=True, omit_defaults=True):
    """One ``input`` item: a message, a function call or its output, a reasoning item,
    an item reference, or a built-in tool item (refused when translating)."""

    type: str = "message"
    id: str | UnsetType = UNSET
    status: str | UnsetType = UNSET
    # message
    role: Literal["user", "assistant", "system", "developer"] | UnsetType = UNSET
    content: str | list[InputPart] | UnsetType = UNSET
    phase: str | UnsetType = UNSET
    # function_call / function_call_output / custom_tool_call(_output)
    call_id: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET
    input: str | UnsetType = UNSET
    output: str | list[InputPart] | UnsetType = UNSET
    # reasoning
    summary: list[SummaryText] | UnsetType = UNSET
    encrypted_content: str | None | UnsetType = UNSET


# ---------------------------------------------------------------- tools, options


class ResponsesTool(Struct, kw_only=True, omit_defaults=True):
    """A tool: ``function`` (flat: name, parameters, strict), ``custom`` (freeform
    input), or a built-in type that only OpenAI's servers can run."""

    type: str
    name: str | UnsetType = UNSET
    description: str | None | UnsetType = UNSET
    parameters: dict[str, Any] | None | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET
    format: dict[str, Any] | UnsetType = UNSET


class ToolChoiceSpec(Struct, kw_only=True, omit_defaults=True):
    type: str
    name: str | UnsetType = UNSET
    mode: Literal["auto", "required"] | UnsetType = UNSET
    tools: list[dict[str, Any]] | UnsetType = UNSET


ResponsesToolChoice = Literal["none", "auto", "required"] | ToolChoiceSpec


class TextFormat(Struct, kw_only=True, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    name: Annotated[str, Meta(min_length=1, max_length=64)] | UnsetType = UNSET
    schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET
    description: str | UnsetType = UNSET


class TextConfig(Struct, kw_only=True, omit_defaults=True):
    format: TextFormat | UnsetType = UNSET
    verbosity: Literal["low", "medium", "high"] | None | UnsetType = UNSET


class ReasoningConfig(Struct, kw_only=True, omit_defaults=True):
    effort: str | None | UnsetType = UNSET
    summary: str | None | UnsetType = UNSET


class ResponsesRequest(Struct, kw_only=True, omit_defaults=True):
    """``POST /v1/responses`` body. Fields that need OpenAI's own servers
    (``background``, ``conversation``, ``prompt`` ...) decode so they can be refused
    by name, or passed through natively."""

    model: Annotated[str, Meta(min_length=1, max_length=256)]
    input: str | list[InputItem] = field(default_factory=list)
    instructions: str | None = None
    tools: list[ResponsesTool] | None = None
    tool_choice: ResponsesToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    store: bool | None = None
    previous_response_id: str | None = None
    include: list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, Annotated[str, Meta(max_length=512)]] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    # Need OpenAI's servers: refused when translating.
    max_tool_calls: int | None = None
    background: bool | None = None
    conversation: Any | None = None
    prompt: Any | None = None
    context_management: Any | None = None
    # VibeRouter extension (as on chat): ordered fallback models.
    models: list[str] | None = None

    @property
    def stored(self) -> bool:
        """``store`` defaults to true on the Responses API."""
        return self.store is not False


# ---------------------------------------------------------------- output items


class FunctionCallItem(Struct, tag="function_call", tag_field="type", kw_only=True):
    id: str
    status: str = "completed"
    call_id: str
    name: str
    arguments: str


class CustomToolCallItem(Struct, tag="custom_tool_call", tag_field="type", kw_only=True):
    id: str
    status: str = "completed"
    call_id: str
    name: str
    input: str


OutputPart = OutputTextPart | RefusalPart


class MessageItem(Struct, tag="message", tag_field="type", kw_only=True):
    id: str
    status: str = "completed"
    role: Literal["assistant"] = "assistant"
    content: list[OutputPart] = field(default_factory=list)


class ReasoningItem(Struct, tag="reasoning", tag_field="type", kw_only=True):
    id: str
    summary: list[SummaryText] = field(default_factory=list)
    content: list[ReasoningText] | UnsetType = UNSET
    encrypted_content: str | None | UnsetType = UNSET


OutputItem = ReasoningItem | MessageItem | FunctionCallItem | CustomToolCallItem


class InputTokensDetails(Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(Struct):
    reasoning_tokens: int = 0


class ResponseUsage(Struct):
    input_tokens: int = 0
    input_tokens_details: InputTokensDetails = field(default_factory=InputTokensDetails)
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails = field(default_factory=OutputTokensDetails)
    total_tokens: int = 0


class ResponseError(Struct):
    code: str
    message: str


class IncompleteDetails(Struct):
    reason: Literal["max_output_tokens", "content_filter"]


ResponseStatus = Literal["completed", "incomplete", "failed", "in_progress", "cancelled", "queued"]


class Response(Struct, kw_only=True):
    """The response object, as OpenAI sends it: every request parameter echoed, nulls
    included (so no ``omit_defaults``)."""

    id: str
    object_: Literal["response"] = field(name="object", default="response")
    created_at: int
    status: ResponseStatus
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem] = field(default_factory=list)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    reasoning: ReasoningConfig = field(default_factory=ReasoningConfig)
    service_tier: str | None = None
    store: bool = True
    temperature: float | None = None
    text: TextConfig = field(default_factory=TextConfig)
    tool_choice: ResponsesToolChoice = "auto"
    tools: list[ResponsesTool] = field(default_factory=list)
    top_p: float | None = None
    truncation: str = "disabled"
    usage: ResponseUsage | None = None
    user: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class DeletedResponse(Struct):
    id: str
    object_: Literal["response"] = field(name="object", default="response")
    deleted: bool = True


# ---------------------------------------------------------------- errors (OpenAI nested shape)


# The shape is shared with the chat dialect's error_format = "openai": api/openai_errors.py.
from router_core.api.openai_errors import OpenAIErrorBody, OpenAIErrorDetail  # noqa: E402

__all__ = [
    "CustomToolCallItem",
    "DeletedResponse",
    "FunctionCallItem",
    "IncompleteDetails",
    "InputFile",
    "InputImage",
    "InputItem",
    "InputPart",
    "InputText",
    "InputTokensDetails",
    "MessageItem",
    "OpenAIErrorBody",
    "OpenAIErrorDetail",
    "OutputItem",
    "OutputPart",
    "OutputTextPart",
    "OutputTokensDetails",
    "ReasoningConfig",
    "ReasoningItem",
    "ReasoningText",
    "RefusalPart",
    "Response",
    "ResponseError",
    "ResponseStatus",
    "ResponseUsage",
    "ResponsesRequest",
    "ResponsesTool",
    "ResponsesToolChoice",
    "SummaryText",
    "TextConfig",
    "TextFormat",
    "ToolChoiceSpec",
]
