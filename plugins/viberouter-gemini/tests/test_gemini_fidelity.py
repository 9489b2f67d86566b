"""Reasoning, thought signatures, structured output and cache_control on Gemini."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from fake_gemini import check_body
from gemini_helpers import chat, deployment, provider

from router_core.plugin_api import ChatRequest


def _body(request: ChatRequest, model: str = "gemini-2.5-flash") -> dict[str, Any]:
    upstream = provider().build_request(request, deployment(model))
    body: dict[str, Any] = msgspec.json.decode(upstream.body)
    assert check_body(body, model=model) is None
    return body


@pytest.mark.parametrize(
    ("reasoning", "model", "thinking"),
    [
        (
            {"max_tokens": 3000},
            "gemini-2.5-flash",
            {"thinkingBudget": 3000, "includeThoughts": True},
        ),
        ({"effort": "high"}, "gemini-2.5-pro", {"thinkingBudget": 24576, "includeThoughts": True}),
        (
            {"effort": "low", "exclude": True},
            "gemini-2.5-flash",
            {"thinkingBudget": 1024, "includeThoughts": False},
        ),
        ({"enabled": False}, "gemini-2.5-flash", {"thinkingBudget": 0}),
        ({"enabled": True}, "gemini-2.5-flash", {"thinkingBudget": 8192, "includeThoughts": True}),
        (
            {"effort": "xhigh"},
            "gemini-3-pro-preview",
            {"thinkingLevel": "high", "includeThoughts": True},
        ),
    ],
)
def test_openrouter_reasoning_becomes_thinking_config(
    reasoning: dict[str, Any], model: str, thinking: dict[str, Any]
) -> None:
    body = _body(
        chat(model=model, messages=[{"role": "user", "content": "hi"}], reasoning=reasoning), model
    )
    assert body["generationConfig"]["thinkingConfig"] == thinking


def test_strict_json_schema_is_response_json_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": schema, "strict": True}}
    config = _body(chat(messages=[{"role": "user", "content": "hi"}], response_format=fmt))[
        "generationConfig"
    ]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": schema}


def test_cache_control_is_ignored_silently() -> None:
    mark = {"type": "ephemeral", "ttl": "1h"}
    request = chat(
        messages=[
            {"role": "system", "content": "long", "cache_control": mark},
            {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": mark}]},
        ],
        tools=[{"type": "function", "function": {"name": "f"}, "cache_control": mark}],
    )
    body = _body(request)
    assert b"cache" not in msgspec.json.encode(body)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_a_text_signature_sent_back_in_reasoning_details_returns_to_its_turn() -> None:
    details = [
        {"type": "reasoning.text", "text": "thinking", "format": "google-gemini-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": "YW50aHJvcGlj", "format": "anthropic-claude-v1"},
        {
            "type": "reasoning.encrypted",
            "data": "c2lnVDE=",
            "format": "google-gemini-v1",
            "index": 1,
        },
    ]
    messages = [
        {"role": "user", "content": "count"},
        {"role": "assistant", "content": "one two", "reasoning_details": details},
        {"role": "user", "content": "again"},
    ]
    body = _body(chat(model="gemini-3-pro-preview", messages=messages), "gemini-3-pro-preview")
    assert body["contents"][1] == {
        "role": "model",
        "parts": [{"text": "one two", "thoughtSignature": "c2lnVDE="}],
    }


def test_the_fake_refuses_an_unsigned_function_call_on_gemini_3() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
    ]
    request = chat(model="gemini-3-pro-preview", messages=messages)
    upstream = provider().build_request(request, deployment("gemini-3-pro-preview"))
    problem = check_body(msgspec.json.decode(upstream.body), model="gemini-3-pro-preview")
    assert problem is not None and "thought_signature" in problem
