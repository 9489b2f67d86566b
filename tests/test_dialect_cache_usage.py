"""Cache reads, cache writes and reasoning tokens from the canonical usage into every
dialect's usage fields (the chat dialect's is the canonical form itself)."""

from __future__ import annotations

import msgspec

from router_core.api.chat import CompletionTokensDetails, PromptTokensDetails, Usage
from router_core.dialects.anthropic_messages.from_chat import usage_out
from router_core.dialects.anthropic_messages.wire import UsageOut
from router_core.dialects.openai_responses.from_chat import response_usage

USAGE = Usage(
    prompt_tokens=3000,
    completion_tokens=70,
    total_tokens=3070,
    prompt_tokens_details=PromptTokensDetails(cached_tokens=2048, cache_write_tokens=900),
    completion_tokens_details=CompletionTokensDetails(reasoning_tokens=40),
)


def test_chat_usage_names_cache_reads_and_writes() -> None:
    assert msgspec.json.decode(msgspec.json.encode(USAGE))["prompt_tokens_details"] == {
        "cached_tokens": 2048,
        "cache_write_tokens": 900,
    }


def test_anthropic_usage_takes_reads_and_writes_out_of_input_tokens() -> None:
    assert usage_out(USAGE) == UsageOut(
        input_tokens=52,
        cache_read_input_tokens=2048,
        cache_creation_input_tokens=900,
        output_tokens=70,
    )


def test_responses_usage_keeps_them_inside_input_tokens() -> None:
    doc = msgspec.to_builtins(response_usage(USAGE))
    assert doc["input_tokens"] == 3000
    assert doc["input_tokens_details"] == {"cached_tokens": 2048, "cache_write_tokens": 900}
    assert doc["output_tokens_details"] == {"reasoning_tokens": 40}
