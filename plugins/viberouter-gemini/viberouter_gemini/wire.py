"""Gemini REST wire types (camelCase on the wire, snake_case here).

Request types omit unset fields so the body carries only what the client asked
for; response types declare only what the translator reads (msgspec ignores the
rest, e.g. ``safetyRatings``, ``citationMetadata``).
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType


class _Wire(msgspec.Struct, rename="camel", omit_defaults=True):
    """Base of every Gemini wire type."""


# ---------------------------------------------------------------- shared by both directions


class Blob(_Wire):
    mime_type: str
    data: str


class FunctionCallData(_Wire):
    name: str
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str | UnsetType = UNSET


class FunctionResponseData(_Wire):
    name: str
    response: dict[str, Any]
    id: str | UnsetType = UNSET


class Part(_Wire):
    text: str | UnsetType = UNSET
    thought: bool | UnsetType = UNSET
    thought_signature: str | UnsetType = UNSET
    inline_data: Blob | UnsetType = UNSET
    function_call: FunctionCallData | UnsetType = UNSET
    function_response: FunctionResponseData | UnsetType = UNSET


class Content(_Wire):
    parts: list[Part] = msgspec.field(default_factory=list)
    role: str | UnsetType = UNSET


# ---------------------------------------------------------------- request


class FunctionDeclaration(_Wire):
    name: str
    description: str | UnsetType = UNSET
    parameters_json_schema: dict[str, Any] | UnsetType = UNSET


class GeminiTool(_Wire):
    function_declarations: list[FunctionDeclaration]


class FunctionCallingConfig(_Wire):
    mode: str
    allowed_function_names: list[str] | UnsetType = UNSET


class ToolConfig(_Wire):
    function_calling_config: FunctionCallingConfig


class ThinkingConfig(_Wire):
    thinking_budget: int | UnsetType = UNSET
    thinking_level: str | UnsetType = UNSET
    include_thoughts: bool | UnsetType = UNSET


class GenerationConfig(_Wire):
    temperature: float | UnsetType = UNSET
    top_p: float | UnsetType = UNSET
    top_k: int | UnsetType = UNSET
    max_output_tokens: int | UnsetType = UNSET
    stop_sequences: list[str] | UnsetType = UNSET
    candidate_count: int | UnsetType = UNSET
    presence_penalty: float | UnsetType = UNSET
    frequency_penalty: float | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    response_mime_type: str | UnsetType = UNSET
    response_json_schema: dict[str, Any] | UnsetType = UNSET
    response_logprobs: bool | UnsetType = UNSET
    logprobs: int | UnsetType = UNSET
    thinking_config: ThinkingConfig | UnsetType = UNSET


class GenerateContentRequest(_Wire, kw_only=True):
    system_instruction: Content | UnsetType = UNSET
    contents: list[Content]
    tools: list[GeminiTool] | UnsetType = UNSET
    tool_config: ToolConfig | UnsetType = UNSET
    generation_config: GenerationConfig | UnsetType = UNSET


# ---------------------------------------------------------------- response


class LogprobsCandidate(_Wire):
    token: str = ""
    log_probability: float = 0.0


class TopCandidates(_Wire):
    candidates: list[LogprobsCandidate] = msgspec.field(default_factory=list)


class LogprobsResult(_Wire):
    top_candidates: list[TopCandidates] = msgspec.field(default_factory=list)
    chosen_candidates: list[LogprobsCandidate] = msgspec.field(default_factory=list)


class Candidate(_Wire):
    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0
    logprobs_result: LogprobsResult | None = None


class PromptFeedback(_Wire):
    block_reason: str | None = None


class UsageMetadata(_Wire):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int | None = None
    total_token_count: int = 0
    cached_content_token_count: int | None = None


class RpcError(_Wire):
    """The Google RPC error status, as in ``{"error": {...}}``."""

    code: int = 0
    message: str = ""
    status: str = ""
    details: list[dict[str, Any]] = msgspec.field(default_factory=list)


class GenerateContentResponse(_Wire):
    candidates: list[Candidate] = msgspec.field(default_factory=list)
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: RpcError | None = None


class ErrorEnvelope(_Wire):
    error: RpcError | None = None


REQUEST_ENCODER = msgspec.json.Encoder()
RESPONSE_DECODER = msgspec.json.Decoder(GenerateContentResponse)
# Non-SSE streaming errors arrive wrapped in a JSON array; accept both shapes.
ERROR_DECODER = msgspec.json.Decoder(ErrorEnvelope | list[ErrorEnvelope])
