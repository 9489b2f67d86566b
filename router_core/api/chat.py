"""OpenAI Chat Completions wire types (requests, responses, stream chunks).

Field names and shapes follow the OpenAI API. Unknown request fields are ignored by
msgspec; provider-specific extras reach a plugin only through its declared
``extra_params`` Struct (see plugin_api).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType, field

# ---------------------------------------------------------------- request parts


class CacheControl(Struct):
    """A prompt-cache breakpoint, in the form OpenRouter and LiteLLM accept on
    OpenAI-format messages, content parts and tools. Carried to Anthropic as is;
    providers that cache by themselves (OpenAI, Gemini) ignore it."""

    type: Literal["ephemeral"] = "ephemeral"
    ttl: Literal["5m", "1h"] | UnsetType = UNSET


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
    cache_control: CacheControl | UnsetType = UNSET


class ImagePart(Struct, tag="image_url", tag_field="type"):
    image_url: ImageUrl
    cache_control: CacheControl | UnsetType = UNSET


class AudioPart(Struct, tag="input_audio", tag_field="type"):
    input_audio: InputAudio
    cache_control: CacheControl | UnsetType = UNSET


class FilePart(Struct, tag="file", tag_field="type"):
    file: FileRef
    cache_control: CacheControl | UnsetType = UNSET


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


class ReasoningDetail(Struct, omit_defaults=True):
    """One entry of OpenRouter's ``reasoning_details`` (on an answer, and on an
    assistant message sent back): ``reasoning.text`` (``text`` and, once complete,
    the provider's ``signature``), ``reasoning.summary`` (``summary``) or
    ``reasoning.encrypted`` (opaque ``data``: Anthropic redacted thinking, Gemini
    thought signatures). ``format`` names the minting provider
    (``anthropic-claude-v1``, ``google-gemini-v1``); ``index`` groups stream deltas
    of one entry; ``id`` ties an entry to a tool call where the provider does."""

    type: str  # new kinds pass through untouched
    text: str | None | UnsetType = UNSET
    signature: str | None | UnsetType = UNSET
    summary: str | UnsetType = UNSET
    data: str | UnsetType = UNSET
    id: str | None | UnsetType = UNSET
    format: str | None | UnsetType = UNSET
    index: int | UnsetType = UNSET


class ThinkingBlock(Struct, omit_defaults=True):
    """LiteLLM's ``thinking_blocks`` entry on an assistant message sent back:
    Anthropic's own ``thinking`` (with ``signature``) or ``redacted_thinking``."""

    type: Literal["thinking", "redacted_thinking"]
    thinking: str | UnsetType = UNSET
    signature: str | UnsetType = UNSET
    data: str | UnsetType = UNSET


class Message(Struct, omit_defaults=True):
    """One conversation turn; role-specific rules are checked by the handler."""

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | UnsetType = UNSET
    tool_calls: list[ToolCall] | UnsetType = UNSET
    tool_call_id: str | UnsetType = UNSET
    refusal: str | None | UnsetType = UNSET
    #: a breakpoint after this whole message (its last content block).
    cache_control: CacheControl | UnsetType = UNSET
    # An assistant turn's reasoning sent back (OpenRouter, DeepSeek, LiteLLM forms):
    # providers that sign their thinking need it replayed before the tool calls.
    reasoning_content: str | None | UnsetType = UNSET
    reasoning: str | None | UnsetType = UNSET
    reasoning_details: list[ReasoningDetail] | UnsetType = UNSET
    thinking_blocks: list[ThinkingBlock] | UnsetType = UNSET


class FunctionDef(Struct, omit_defaults=True):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    description: str | UnsetType = UNSET
    parameters: dict[str, Any] | UnsetType = UNSET
    strict: bool | None | UnsetType = UNSET


class Tool(Struct):
    function: FunctionDef
    type: Literal["function"] = "function"
    cache_control: CacheControl | UnsetType = UNSET


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


class ReasoningConfig(Struct, omit_defaults=True):
    """OpenRouter's unified ``reasoning`` request object: an ``effort`` or a token
    budget (``max_tokens``), ``exclude`` to reason without returning the text,
    ``enabled`` to switch it on at the default effort (or off)."""

    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    max_tokens: Annotated[int, Meta(ge=0)] | None = None
    exclude: bool | None = None
    enabled: bool | None = None


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
    #: OpenRouter's reasoning object (an extension beside ``reasoning_effort``).
    reasoning: ReasoningConfig | None = None
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
    #: The part of ``cache_write_tokens`` written with a one-hour TTL (Anthropic's
    #: ``cache_creation.ephemeral_1h_input_tokens``; billed at its own rate).
    cache_write_1h_tokens: int | UnsetType = UNSET


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
    # Thinking text twice (DeepSeek/LiteLLM's name and OpenRouter's), and OpenRouter's
    # details that carry the signatures a tool loop must send back.
    reasoning_content: str | UnsetType = UNSET
    reasoning: str | UnsetType = UNSET
    reasoning_details: list[ReasoningDetail] | UnsetType = UNSET


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
    reasoning: str | UnsetType = UNSET
    reasoning_details: list[ReasoningDetail] | UnsetType = UNSET


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
    "CacheControl",
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
    "ReasoningConfig",
    "ReasoningDetail",
    "RefusalPart",
    "ResponseFormat",
    "ResponseMessage",
    "Role",
    "StreamOptions",
    "TextPart",
    "ThinkingBlock",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceObject",
    "Usage",
]
