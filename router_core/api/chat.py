"""OpenAI Chat Completions wire types (requests, responses, stream chunks).

Field names and shapes follow the OpenAI API. Unknown request fields are ignored by
msgspec; provider-specific extras reach a plugin only through its declared
``extra_params`` Struct (see plugin_api).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

# ---------------------------------------------------------------- request parts


class ImageUrl(Struct, omit_defaults=True):
    url: str
    detail: Literal["auto", "low", "high"] | UnsetType = UNSET


class InputAudio(Struct):
    data: str
    format: str


class FileRef(Struct, omit_defaults=True):
    file_id: str | UnsetType = UNSET
    filename: str | UnsetType = UNSET
    file_data: str | UnsetType = UNSET


class TextPart(Struct, tag="text", tag_field="type"):
    text: str


class ImagePart(Struct, tag="image_url", tag_field="type"):
    image_url: ImageUrl


class AudioPart(Struct, tag="input_audio", tag_field="type"):
    input_audio: InputAudio


class FilePart(Struct, tag="file", tag_field="type"):
    file: FileRef


class RefusalPart(Struct, tag="refusal", tag_field="type"):
    refusal: str


ContentPart = TextPart | ImagePart | AudioPart | FilePart | RefusalPart


class FunctionCall(Struct):
    name: str
    arguments: str


class ToolCall(Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class Message(Struct, omit_defaults=True):
    """One conversation turn; role-specific rules are checked by the handler."""

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET
    refusal: str | None | UnsetType = UNSET


class FunctionDef(Struct, omit_defaults=True):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET


class Tool(Struct):
    function: FunctionDef
    type: Literal["function"] = "function"


class NamedFunction(Struct):
    name: str


class ToolChoiceObject(Struct, omit_defaults=True):
    type: Literal["function", "allowed_tools"]
    function: NamedFunction | UnsetType = UNSET
    allowed_tools: dict[str, Any] | UnsetType = UNSET


ToolChoice = Literal["none", "auto", "required"] | ToolChoiceObject


class JsonSchemaSpec(Struct, omit_defaults=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    description: str | UnsetType = UNSET
    schema: dict[str, Any] | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET


class ResponseFormat(Struct, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | UnsetType = UNSET


class StreamOptions(Struct, omit_defaults=True):
    include_usage: bool = False
    include_obfuscation: bool | UnsetType = UNSET


Temperature = Annotated[float, Meta(ge=0, le=2)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]


class ChatRequest(Struct, omit_defaults=True):
    """``POST /v1/chat/completions`` body: every OpenAI field, plus VibeRouter's
    ``models`` (ordered fallbacks) and ``transforms`` (context management)."""

    model: Annotated[str, Meta(min_length=1, max_length=256)]
    messages: Annotated[list[Message], Meta(min_length=1)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    stop: str | Annotated[list[str], Meta(max_length=4)] | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    seed: int | None = None
    logit_bias: dict[str, Annotated[int, Meta(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    user: str | None = None
    safety_identifier: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None
    reasoning_effort: str | None = None
    prompt_cache_key: str | None = None
    verbosity: str | None = None
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None
    # VibeRouter extensions (OpenRouter-compatible names).
    models: list[str] | None = None
    transforms: list[str] | None = None

    @property
    def output_limit(self) -> int | None:
        """The client's output cap: max_completion_tokens, else max_tokens."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


# ---------------------------------------------------------------- responses
# Response types never use omit_defaults: OpenAI always sends keys such as "object",
# "content": null and "finish_reason": null. Optional keys are UNSET, which msgspec
# always leaves out.


class PromptTokensDetails(Struct):
    cached_tokens: int | UnsetType = UNSET
    audio_tokens: int | UnsetType = UNSET
    cache_write_tokens: int | UnsetType = UNSET


class CompletionTokensDetails(Struct):
    reasoning_tokens: int | UnsetType = UNSET
    audio_tokens: int | UnsetType = UNSET
    accepted_prediction_tokens: int | UnsetType = UNSET
    rejected_prediction_tokens: int | UnsetType = UNSET


class Usage(Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | UnsetType = UNSET
    completion_tokens_details: CompletionTokensDetails | UnsetType = UNSET
    cost: float | UnsetType = UNSET


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class ResponseMessage(Struct):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | UnsetType = UNSET
    refusal: str | None = None
    reasoning_content: str | UnsetType = UNSET


class Choice(Struct, kw_only=True):
    index: int = 0
    message: ResponseMessage
    logprobs: Any | None = None
    finish_reason: FinishReason | None = None


class ChatCompletion(Struct, kw_only=True):
    id: str
    object_: Literal["chat.completion"] = field(name="object", default="chat.completion")
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | UnsetType = UNSET
    system_fingerprint: str | None | UnsetType = UNSET
    service_tier: str | None | UnsetType = UNSET


# ---------------------------------------------------------------- stream chunks


class FunctionDelta(Struct):
    name: str | UnsetType = UNSET
    arguments: str | UnsetType = UNSET


class ToolCallDelta(Struct):
    index: int
    id: str | UnsetType = UNSET
    type: Literal["function"] | UnsetType = UNSET
    function: FunctionDelta | UnsetType = UNSET


class Delta(Struct):
    role: Literal["assistant"] | UnsetType = UNSET
    content: str | None | UnsetType = UNSET
    refusal: str | None | UnsetType = UNSET
    tool_calls: list[ToolCallDelta] | UnsetType = UNSET
    reasoning_content: str | UnsetType = UNSET


class ChunkChoice(Struct, kw_only=True):
    index: int = 0
    delta: Delta
    logprobs: Any | None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(Struct, kw_only=True):
    id: str
    object_: Literal["chat.completion.chunk"] = field(
        name="object", default="chat.completion.chunk"
    )
    created: int
    model: str
    system_fingerprint: str | None | UnsetType = UNSET
    choices: list[ChunkChoice]
    service_tier: str | None | UnsetType = UNSET
    usage: Usage | None | UnsetType = UNSET


# ---------------------------------------------------------------- errors


class ErrorBody(Struct):
    """The public error body: ``{"error": "<code>", "message": "..."}``."""

    error: str
    message: str


__all__ = [
    "AudioPart",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentPart",
    "Delta",
    "ErrorBody",
    "FilePart",
    "FileRef",
    "FinishReason",
    "FunctionCall",
    "FunctionDef",
    "FunctionDelta",
    "ImagePart",
    "ImageUrl",
    "InputAudio",
    "JsonSchemaSpec",
    "Message",
    "NamedFunction",
    "PromptTokensDetails",
    "RefusalPart",
    "ResponseFormat",
    "ResponseMessage",
    "Role",
    "StreamOptions",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceObject",
    "Usage",
]
