"""The router's OpenRouter-style extensions on an OpenAI-compatible upstream."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from viberouter_openai import OpenAIProvider
from viberouter_openai.extensions import without_extensions
from viberouter_openai.settings import OpenAISettings

from router_core.plugin_api import ChatRequest
from router_core.plugin_testing import deployment

DEPLOYMENT = deployment("gpt-4o", provider="openai")
MARK = {"type": "ephemeral", "ttl": "1h"}
MARKED: dict[str, Any] = {
    "model": "openai/gpt-4o",
    "messages": [
        {"role": "system", "content": "long", "cache_control": MARK},
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": MARK}]},
        {
            "role": "assistant",
            "content": "yes",
            "reasoning_content": "think",
            "reasoning": "think",
            "reasoning_details": [{"type": "reasoning.text", "text": "think", "signature": "s"}],
            "thinking_blocks": [{"type": "thinking", "thinking": "think", "signature": "s"}],
        },
        {"role": "user", "content": "more"},
    ],
    "tools": [
        {"type": "function", "function": {"name": "f"}, "cache_control": MARK},
    ],
    "reasoning": {"effort": "high", "exclude": False},
}


def _body(settings: OpenAISettings, doc: dict[str, Any]) -> dict[str, Any]:
    request = msgspec.convert(doc, ChatRequest)
    upstream = OpenAIProvider(settings).build_request(request, DEPLOYMENT)
    body: dict[str, Any] = json.loads(upstream.body)
    return body


def test_extensions_are_removed_and_reasoning_becomes_effort() -> None:
    body = _body(OpenAISettings(), MARKED)
    assert body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "long"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": "yes"},
            {"role": "user", "content": "more"},
        ],
        "tools": [{"function": {"name": "f"}, "type": "function"}],
        "reasoning_effort": "high",
    }


def test_forward_extensions_sends_them_unchanged() -> None:
    body = _body(OpenAISettings(forward_extensions=True), MARKED)
    assert body["messages"][0]["cache_control"] == MARK
    assert body["messages"][1]["content"][0]["cache_control"] == MARK
    assert body["messages"][2]["reasoning_details"][0]["signature"] == "s"
    assert body["tools"][0]["cache_control"] == MARK
    assert body["reasoning"] == {"effort": "high", "exclude": False}


def test_a_plain_request_is_not_copied() -> None:
    request = msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, ChatRequest
    )
    assert without_extensions(request) is request


def test_each_message_extension_alone_is_removed() -> None:
    # one extension per request, so the check for each name is what finds it
    values: dict[str, Any] = {
        "cache_control": MARK,
        "reasoning_content": "think",
        "reasoning": "think",
        "reasoning_details": [{"type": "reasoning.text", "text": "t", "signature": "s"}],
        "thinking_blocks": [{"type": "thinking", "thinking": "t", "signature": "s"}],
    }
    from viberouter_openai.extensions import _MESSAGE_EXTRAS

    assert set(values) == set(_MESSAGE_EXTRAS)
    for name, value in values.items():
        doc = {"model": "m", "messages": [{"role": "assistant", "content": "a", name: value}]}
        req = msgspec.json.decode(json.dumps(doc), type=ChatRequest)
        plain = without_extensions(req)
        assert plain is not req, name
        assert name not in msgspec.to_builtins(plain.messages[0]), name
