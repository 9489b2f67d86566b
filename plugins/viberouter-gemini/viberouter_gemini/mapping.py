"""Small Gemini -> OpenAI mappings shared by the JSON and streaming paths."""

from __future__ import annotations

from typing import Any, Literal

from router_core.plugin_api import CompletionTokensDetails, PromptTokensDetails, Usage

from .wire import LogprobsResult, UsageMetadata

OpenAIFinish = Literal["stop", "length", "tool_calls", "content_filter"]

_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)


def finish_reason(gemini: str, has_tool_calls: bool) -> OpenAIFinish:
    """Map a Gemini ``finishReason``; STOP after a function call means ``tool_calls``.

    Everything not listed (OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,
    unknown future values) is a plain ``stop``.
    """
    if gemini == "MAX_TOKENS":
        return "length"
    if gemini in _FILTERED:
        return "content_filter"
    if gemini == "STOP" and has_tool_calls:
        return "tool_calls"
    return "stop"


def usage(meta: UsageMetadata) -> Usage:
    """OpenAI usage: completion counts thinking too, as OpenAI's reasoning tokens do."""
    thoughts = meta.thoughts_token_count or 0
    completion = meta.candidates_token_count + thoughts
    out = Usage(
        prompt_tokens=meta.prompt_token_count,
        completion_tokens=completion,
        total_tokens=meta.total_token_count or meta.prompt_token_count + completion,
    )
    if meta.cached_content_token_count is not None:
        out.prompt_tokens_details = PromptTokensDetails(
            cached_tokens=meta.cached_content_token_count
        )
    if meta.thoughts_token_count is not None:
        out.completion_tokens_details = CompletionTokensDetails(reasoning_tokens=thoughts)
    return out


def logprobs(result: LogprobsResult | None) -> dict[str, Any] | None:
    """Gemini ``logprobsResult`` -> OpenAI ``choices[].logprobs``."""
    if result is None or not result.chosen_candidates:
        return None
    content: list[dict[str, Any]] = []
    for k, chosen in enumerate(result.chosen_candidates):
        tops = result.top_candidates[k].candidates if k < len(result.top_candidates) else []
        content.append(
            {
                "token": chosen.token,
                "logprob": chosen.log_probability,
                "bytes": list(chosen.token.encode()),
                "top_logprobs": [
                    {
                        "token": t.token,
                        "logprob": t.log_probability,
                        "bytes": list(t.token.encode()),
                    }
                    for t in tops
                ],
            }
        )
    return {"content": content, "refusal": None}
