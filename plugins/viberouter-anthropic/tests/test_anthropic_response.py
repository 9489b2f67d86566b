"""Non-streaming responses: Anthropic message JSON -> chat.completion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from viberouter_anthropic import AnthropicProvider

from router_core.plugin_api import (
    ChatRequest,
    ModelCard,
    ModelError,
    PromptTokensDetails,
    Usage,
    json_encode,
)
from router_core.plugin_testing import check_model_rule, deployment

REQUEST = msgspec.convert(
    {"model": "anthropic/claude", "messages": [{"role": "user", "content": "hi"}]}, ChatRequest
)
DEPLOYMENT = deployment(
    "claude-sonnet-4-20250514", provider="anthropic", card=ModelCard(id="claude-sonnet-4-20250514")
)


def _parse(body: bytes) -> dict[str, Any]:
    completion = AnthropicProvider().parse_response(REQUEST, DEPLOYMENT, body)
    assert completion.id.startswith("chatcmpl-")
    assert completion.created > 1_700_000_000
    doc: dict[str, Any] = json.loads(json_encode(completion))
    doc.update(id="chatcmpl-test", created=1700000000)
    return doc


def test_text_and_tool_use_match_expected(anthropic_data: Path) -> None:
    doc = _parse((anthropic_data / "response_tool.json").read_bytes())
    expected = json.loads((anthropic_data / "response_tool.expected.json").read_text())
    assert doc == expected


def test_thinking_unknown_blocks_cache_usage_and_length(anthropic_data: Path) -> None:
    completion = AnthropicProvider().parse_response(
        REQUEST, DEPLOYMENT, (anthropic_data / "response_thinking.json").read_bytes()
    )
    (choice,) = completion.choices
    assert completion.model == "claude-sonnet-4-5-20250929"
    assert choice.message.content == "There are three r\u2019s."
    assert choice.message.reasoning_content == "Count the letters."
    assert isinstance(choice.message.tool_calls, msgspec.UnsetType)  # server tools stay out
    assert choice.finish_reason == "length"
    assert completion.usage == Usage(
        prompt_tokens=1510,
        completion_tokens=64,
        total_tokens=1574,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=1200, cache_write_tokens=300),
    )


def test_refusal_without_content_is_null_content_filter(anthropic_data: Path) -> None:
    doc = _parse((anthropic_data / "response_refusal.json").read_bytes())
    assert doc["choices"][0]["message"]["content"] is None
    assert doc["choices"][0]["finish_reason"] == "content_filter"
    assert doc["usage"]["prompt_tokens"] == 7


@pytest.mark.parametrize(
    ("stop_reason", "has_tool", "finish"),
    [
        ("end_turn", False, "stop"),
        ("stop_sequence", False, "stop"),
        ("pause_turn", False, "stop"),
        (None, False, "stop"),
        ("something_new", False, "stop"),
        ("max_tokens", False, "length"),
        ("model_context_window_exceeded", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("end_turn", True, "tool_calls"),
        ("max_tokens", True, "length"),
        ("refusal", False, "content_filter"),
    ],
)
def test_stop_reason_table(stop_reason: str | None, has_tool: bool, finish: str) -> None:
    content: list[dict[str, Any]] = [{"type": "text", "text": "x"}]
    if has_tool:
        content.append({"type": "tool_use", "id": "t1", "name": "f", "input": {"a": "é"}})
    body = {
        "model": "m",
        "content": content,
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    doc = _parse(json.dumps(body).encode())
    assert doc["choices"][0]["finish_reason"] == finish
    if has_tool:
        assert doc["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == (
            '{"a":"é"}'
        )


def test_model_falls_back_to_deployment_model() -> None:
    doc = _parse(b'{"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn"}')
    assert doc["model"] == "claude-sonnet-4-20250514"
    assert doc["choices"][0]["message"]["content"] == "ok"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"content": 5}', b""])
def test_garbage_is_a_model_error(body: bytes) -> None:
    with pytest.raises(ModelError, match="malformed"):
        AnthropicProvider().parse_response(REQUEST, DEPLOYMENT, body)


def test_response_follows_the_model_rule(anthropic_data: Path) -> None:
    raw = (anthropic_data / "response_thinking.json").read_bytes()
    named = AnthropicProvider().parse_response(REQUEST, DEPLOYMENT, raw)
    check_model_rule(named, DEPLOYMENT, "claude-sonnet-4-5-20250929")
    doc = json.loads(raw)
    doc["model"] = ""
    unnamed = AnthropicProvider().parse_response(REQUEST, DEPLOYMENT, json.dumps(doc).encode())
    check_model_rule(unnamed, DEPLOYMENT, None)
