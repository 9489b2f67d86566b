"""Tolerant shapes of what OpenAI-compatible servers actually send, and their conversion.

Every field is optional and nullable: vLLM sends ``"choices": null``, OpenRouter repeats
``role`` and ``content: null`` on every delta, Ollama omits tool-call ``index``, some
servers send argument objects instead of strings. Unknown keys are ignored.

The shapes are ``gc=False``: they only ever hold decoded JSON, which cannot form a
reference cycle, and skipping GC tracking makes decoding every stream chunk cheaper.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChunkChoice,
    CompletionTokensDetails,
    Delta,
    FunctionDelta,
    ModelError,
    PromptTokensDetails,
    ReasoningDetail,
    ToolCallDelta,
    Usage,
    json_encode,
)

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]
_KEPT_FINISH: frozenset[str] = frozenset(
    {"length", "tool_calls", "content_filter", "function_call"}
)
# Finish reasons that mean the upstream gave up mid-answer.
_FAILED_FINISH: frozenset[str] = frozenset({"error", "abort"})


class UpFunction(msgspec.Struct, gc=False):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class UpToolCallDelta(msgspec.Struct, gc=False):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: UpFunction | None = None


class UpDelta(msgspec.Struct, gc=False):
    role: str | None = None
    content: str | msgspec.UnsetType | None = msgspec.UNSET
    refusal: str | msgspec.UnsetType | None = msgspec.UNSET
    tool_calls: list[UpToolCallDelta] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None


class UpChunkChoice(msgspec.Struct, gc=False):
    index: int = 0
    delta: UpDelta | None = None
    logprobs: Any = None
    finish_reason: str | None = None


class UpPromptDetails(msgspec.Struct, gc=False):
    cached_tokens: int | None = None
    audio_tokens: int | None = None
    cache_write_tokens: int | None = None


class UpCompletionDetails(msgspec.Struct, gc=False):
    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class UpUsage(msgspec.Struct, gc=False):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: UpPromptDetails | None = None
    completion_tokens_details: UpCompletionDetails | None = None
    cost: float | None = None


class UpChunk(msgspec.Struct, gc=False):
    id: str = ""
    created: int | float = 0
    model: str = ""
    system_fingerprint: str | msgspec.UnsetType | None = msgspec.UNSET
    service_tier: str | msgspec.UnsetType | None = msgspec.UNSET
    choices: list[UpChunkChoice] | None = None
    usage: UpUsage | None = None
    error: Any = None


class UpToolCall(msgspec.Struct, gc=False):
    id: str | None = None
    type: str | None = None
    function: UpFunction | None = None


class UpMessage(msgspec.Struct, gc=False):
    role: str | None = None
    content: str | list[Any] | None = None
    tool_calls: list[UpToolCall] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None


class UpChoice(msgspec.Struct, gc=False):
    index: int = 0
    message: UpMessage | None = None
    logprobs: Any = None
    finish_reason: str | None = None


class UpCompletion(msgspec.Struct, gc=False):
    id: str = ""
    created: int | float = 0
    model: str = ""
    system_fingerprint: str | msgspec.UnsetType | None = msgspec.UNSET
    service_tier: str | msgspec.UnsetType | None = msgspec.UNSET
    choices: list[UpChoice] | None = None
    usage: UpUsage | None = None
    error: Any = None


chunk_decoder = msgspec.json.Decoder(UpChunk)
completion_decoder = msgspec.json.Decoder(UpCompletion)


# ------------------------------------------------------------ events as they came
#
# The canonical chunk types, strict: an event that decodes into these is, field for
# field, the chunk the router would send (``object`` and the choice's ``index``
# required, a finish reason OpenAI knows, ``usage`` null or absent, ``error`` null or
# absent, no field the canonical chunk lacks). Being subclasses of the canonical
# types, the decoded chunk is the translator's output as is: nothing is built.
# The ``Open*`` twins allow unknown fields (``forward_extensions``).


class SentFunction(FunctionDelta, forbid_unknown_fields=True, gc=False):
    pass


class SentToolCall(ToolCallDelta, forbid_unknown_fields=True, gc=False):
    function: SentFunction | msgspec.UnsetType = msgspec.UNSET


class SentReasoningDetail(ReasoningDetail, forbid_unknown_fields=True, gc=False):
    pass


class SentDelta(Delta, forbid_unknown_fields=True, gc=False):
    tool_calls: list[SentToolCall] | msgspec.UnsetType = msgspec.UNSET  # type: ignore[assignment]  # narrower, decoded only
    reasoning_details: list[SentReasoningDetail] | msgspec.UnsetType = msgspec.UNSET  # type: ignore[assignment]  # narrower, decoded only


class SentChoice(ChunkChoice, forbid_unknown_fields=True, gc=False, kw_only=True):
    index: int
    delta: SentDelta


class SentChunk(ChatCompletionChunk, forbid_unknown_fields=True, gc=False, kw_only=True):
    object_: Literal["chat.completion.chunk"] = msgspec.field(name="object")
    choices: list[SentChoice]  # type: ignore[assignment]  # narrower, decoded only
    usage: None | msgspec.UnsetType = msgspec.UNSET
    error: None | msgspec.UnsetType = msgspec.UNSET


class OpenFunction(FunctionDelta, gc=False):
    pass


class OpenToolCall(ToolCallDelta, gc=False):
    function: OpenFunction | msgspec.UnsetType = msgspec.UNSET


class OpenDelta(Delta, gc=False):
    tool_calls: list[OpenToolCall] | msgspec.UnsetType = msgspec.UNSET  # type: ignore[assignment]  # narrower, decoded only


class OpenChoice(ChunkChoice, gc=False, kw_only=True):
    index: int
    delta: OpenDelta


class OpenChunk(ChatCompletionChunk, gc=False, kw_only=True):
    object_: Literal["chat.completion.chunk"] = msgspec.field(name="object")
    choices: list[OpenChoice]  # type: ignore[assignment]  # narrower, decoded only
    usage: None | msgspec.UnsetType = msgspec.UNSET
    error: None | msgspec.UnsetType = msgspec.UNSET


sent_decoder = msgspec.json.Decoder(SentChunk)
open_decoder = msgspec.json.Decoder(OpenChunk)


def finish_reason(raw: str | None, *, had_tool_calls: bool) -> FinishReason:
    """Normalise an upstream finish reason. ``stop`` (or anything unknown) becomes
    ``tool_calls`` when tool calls were produced; ``length`` and ``content_filter``
    are never overridden; ``error`` / ``abort`` raise ``ModelError``."""
    if raw in _FAILED_FINISH:
        raise ModelError(
            "The model provider failed while answering",
            detail=f"upstream finish_reason {raw!r}",
        )
    if raw in _KEPT_FINISH:
        return raw  # type: ignore[return-value]  # narrowed by the set membership
    return "tool_calls" if had_tool_calls else "stop"


def arguments_text(raw: str | dict[str, Any] | msgspec.UnsetType | None) -> str:
    """Tool arguments as the JSON string OpenAI clients expect."""
    if raw is None or raw is msgspec.UNSET:
        return ""
    if isinstance(raw, str):
        return raw
    return json_encode(raw).decode()


def usage(up: UpUsage) -> Usage:
    """The canonical usage; detail fields the upstream did not send stay unset."""
    prompt = up.prompt_tokens or 0
    completion = up.completion_tokens or 0
    out = Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=up.total_tokens or prompt + completion,
    )
    p = up.prompt_tokens_details
    if p is not None:
        out.prompt_tokens_details = PromptTokensDetails(
            cached_tokens=_count(p.cached_tokens),
            audio_tokens=_count(p.audio_tokens),
            cache_write_tokens=_count(p.cache_write_tokens),
        )
    c = up.completion_tokens_details
    if c is not None:
        out.completion_tokens_details = CompletionTokensDetails(
            reasoning_tokens=_count(c.reasoning_tokens),
            audio_tokens=_count(c.audio_tokens),
            accepted_prediction_tokens=_count(c.accepted_prediction_tokens),
            rejected_prediction_tokens=_count(c.rejected_prediction_tokens),
        )
    if up.cost is not None:
        out.cost = up.cost
    return out


def _count(value: int | None) -> int | msgspec.UnsetType:
    return msgspec.UNSET if value is None else value
