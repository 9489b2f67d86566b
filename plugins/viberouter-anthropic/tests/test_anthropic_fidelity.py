"""Prompt caching, structured outputs and reasoning through the chat translation.

Byte-exact where the wire matters (the translated request, the streamed answer
tool); every built body also passes the strict fake's Messages API checks, which
know Anthropic's breakpoint, thinking and tool-loop rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_anthropic import check_messages_request
from viberouter_anthropic import AnthropicExtras, AnthropicProvider, AnthropicStreamTranslator

from router_core.plugin_api import ChatRequest, Deployment, InvalidRequest, ModelCard, json_encode
from router_core.plugin_testing import check_stream, deployment, translate


def _deployment(model: str, max_output: int = 64_000, *, native: bool = False) -> Deployment:
    card = ModelCard(id=model, max_output_tokens=max_output)
    card.capabilities.structured_outputs = native
    return deployment(model, provider="anthropic", card=card)


SONNET_4 = _deployment("claude-sonnet-4-20250514")
SONNET_45 = _deployment("claude-sonnet-4-5-20250929", native=True)
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def _request(**fields: Any) -> ChatRequest:
    fields.setdefault("model", "anthropic/claude")
    fields.setdefault("messages", [{"role": "user", "content": "hi"}])
    return msgspec.convert(fields, ChatRequest)


def _body(
    request: ChatRequest, target: Deployment = SONNET_4, extras: AnthropicExtras | None = None
) -> dict[str, Any]:
    upstream = AnthropicProvider().build_request(request, target, extras=extras)
    body: dict[str, Any] = json.loads(upstream.body)
    assert check_messages_request(body) == []
    return body


def _json_schema(strict: bool | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": "person", "schema": PERSON}
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


# ---------------------------------------------------------------- the whole request


def test_caching_reasoning_and_replayed_thinking_translate_exactly(anthropic_data: Path) -> None:
    # cache_control on a system message, a content part, a tool message and a tool;
    # reasoning_effort low under a 1000-token cap (max_tokens raised to fit the
    # budget, temperature left out); reasoning_details merged by index into one
    # signed thinking block and a redacted one, a Gemini signature left out.
    raw = (anthropic_data / "request_fidelity.openai.json").read_bytes()
    request = msgspec.json.decode(raw, type=ChatRequest)
    upstream = AnthropicProvider().build_request(request, SONNET_4)
    expected = (anthropic_data / "request_fidelity.anthropic.json").read_bytes().rstrip(b"\n")
    assert upstream.body == expected
    assert check_messages_request(json.loads(upstream.body)) == []


# ---------------------------------------------------------------- prompt caching


def test_a_message_breakpoint_marks_its_last_block() -> None:
    body = _body(
        _request(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    "cache_control": {"type": "ephemeral"},
                }
            ]
        )
    )
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
    ]


def test_only_the_last_four_breakpoints_are_kept() -> None:
    mark = {"type": "ephemeral"}
    messages: list[dict[str, Any]] = [{"role": "system", "content": "s", "cache_control": mark}]
    for n in range(5):
        messages.append({"role": "user", "content": f"u{n}", "cache_control": mark})
        messages.append({"role": "assistant", "content": f"a{n}"})
    body = _body(_request(messages=[*messages, {"role": "user", "content": "end"}]))
    marked = [
        block["text"]
        for turn in body["messages"]
        for block in turn["content"]
        if "cache_control" in block
    ]
    assert marked == ["u1", "u2", "u3", "u4"]
    assert "cache_control" not in body["system"][0]


def test_an_invalid_ttl_is_refused_by_the_router() -> None:
    with pytest.raises(msgspec.ValidationError, match="ttl"):
        _request(messages=[{"role": "user", "content": "x", "cache_control": {"ttl": "2h"}}])


# ---------------------------------------------------------------- structured outputs


def test_json_schema_without_native_support_is_a_forced_answer_tool() -> None:
    body = _body(_request(response_format=_json_schema()))
    assert body["tools"] == [
        {
            "name": "person",
            "input_schema": PERSON,
            "description": "Give your final answer as this tool's input; it must match the schema.",
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "person"}
    assert "output_config" not in body


def test_json_schema_is_native_where_the_card_says_so() -> None:
    body = _body(_request(response_format=_json_schema(strict=True)), SONNET_45)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": PERSON}}
    assert "tools" not in body and "tool_choice" not in body


def test_strict_false_uses_the_tool_even_where_native_exists() -> None:
    # Native output is always strict and refuses keywords it cannot enforce.
    body = _body(_request(response_format=_json_schema(strict=False)), SONNET_45)
    assert body["tool_choice"] == {"type": "tool", "name": "person"}


def test_json_object_asks_for_any_object() -> None:
    body = _body(_request(response_format={"type": "json_object"}), SONNET_45)
    assert body["tools"][0]["name"] == "json_output"
    assert body["tools"][0]["input_schema"] == {"type": "object"}


def test_client_tools_stay_callable_beside_the_answer_tool() -> None:
    body = _body(
        _request(response_format=_json_schema(), tools=[WEATHER], parallel_tool_calls=False)
    )
    assert [t["name"] for t in body["tools"]] == ["get_weather", "person"]
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_emulated_json_while_thinking_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"^response_format: .*forced tool"):
        _body(_request(response_format=_json_schema(), reasoning_effort="high"))
    # native structured output and thinking go together
    body = _body(_request(response_format=_json_schema(), reasoning_effort="high"), SONNET_45)
    assert body["thinking"]["type"] == "enabled" and "output_config" in body


def test_the_answer_tool_comes_back_as_text(anthropic_data: Path) -> None:
    request = _request(response_format=_json_schema())
    raw = (anthropic_data / "response_structured.json").read_bytes()
    completion = AnthropicProvider().parse_response(request, SONNET_4, raw)
    (choice,) = completion.choices
    assert choice.message.content == '{"name":"Ada","age":36}'
    assert isinstance(choice.message.tool_calls, msgspec.UnsetType)
    assert choice.finish_reason == "stop"
    usage = json.loads(json_encode(completion.usage))
    assert usage["prompt_tokens_details"] == {"cached_tokens": 2048, "cache_write_tokens": 0}


def test_the_streamed_answer_tool_is_content_exactly(anthropic_data: Path) -> None:
    raw = (anthropic_data / "structured_tool.sse").read_bytes()

    def fresh() -> AnthropicStreamTranslator:
        return AnthropicStreamTranslator(
            "claude-test",
            include_usage=True,
            completion_id="chatcmpl-test",
            created=1700000000,
            answer_tool="person",
        )

    chunks = check_stream(fresh, raw)
    expected = (anthropic_data / "structured_tool.expected.jsonl").read_text().splitlines()
    assert [json_encode(c).decode() for c in chunks] == expected


def test_the_provider_streams_the_answer_tool_as_content(anthropic_data: Path) -> None:
    request = _request(response_format=_json_schema(), stream=True)
    translator = AnthropicProvider().stream_translator(request, SONNET_4)
    chunks = translate(translator, (anthropic_data / "structured_tool.sse").read_bytes())
    text = "".join(
        c.choices[0].delta.content
        for c in chunks
        if c.choices and isinstance(c.choices[0].delta.content, str)
    )
    assert json.loads(text) == {"name": "Ada", "age": 36}


# ---------------------------------------------------------------- reasoning


@pytest.mark.parametrize(
    ("fields", "max_tokens", "budget"),
    [
        ({"reasoning_effort": "high"}, 64_000, 16_384),
        ({"reasoning_effort": "minimal", "max_tokens": 8000}, 8000, 1024),
        ({"reasoning_effort": "medium", "max_tokens": 500}, 8692, 8192),
        ({"reasoning": {"max_tokens": 3000}, "max_tokens": 4000}, 4000, 3000),
        ({"reasoning": {"effort": "low"}}, 64_000, 2048),
        ({"reasoning": {"enabled": True}}, 64_000, 8192),
    ],
)
def test_reasoning_becomes_a_thinking_budget(
    fields: dict[str, Any], max_tokens: int, budget: int
) -> None:
    body = _body(_request(temperature=0.2, **fields))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert body["max_tokens"] == max_tokens
    assert "temperature" not in body


def test_the_budget_shrinks_to_the_models_output_cap() -> None:
    small = _deployment("claude-3-7-sonnet-20250219", max_output=8192)
    body = _body(_request(reasoning_effort="high", max_tokens=2000), small)
    assert body["max_tokens"] == 8192
    assert body["thinking"]["budget_tokens"] == 8191
    tiny = _deployment("claude-x", max_output=1024)
    with pytest.raises(InvalidRequest, match=r"^reasoning_effort: .*1024"):
        _body(_request(reasoning_effort="low"), tiny)


@pytest.mark.parametrize(
    "fields", [{"reasoning_effort": "none"}, {"reasoning": {"enabled": False}}, {}]
)
def test_no_reasoning_means_no_thinking(fields: dict[str, Any]) -> None:
    assert "thinking" not in _body(_request(**fields))


def test_native_thinking_is_sent_as_given() -> None:
    body = _body(
        _request(max_tokens=4000, reasoning_effort="high"),
        extras=msgspec.convert(
            {"thinking": {"type": "enabled", "budget_tokens": 2000}}, AnthropicExtras
        ),
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 4000
    adaptive = msgspec.convert({"thinking": {"type": "adaptive"}}, AnthropicExtras)
    assert _body(_request(), extras=adaptive)["thinking"] == {"type": "adaptive"}
    too_big = msgspec.convert(
        {"thinking": {"type": "enabled", "budget_tokens": 5000}}, AnthropicExtras
    )
    with pytest.raises(InvalidRequest, match=r"^thinking.budget_tokens: must be below"):
        _body(_request(max_tokens=4000), extras=too_big)


def test_thinking_comes_back_with_signatures(anthropic_data: Path) -> None:
    raw = (anthropic_data / "response_thinking.json").read_bytes()
    message = AnthropicProvider().parse_response(_request(), SONNET_4, raw).choices[0].message
    assert message.reasoning_content == message.reasoning == "Count the letters."
    assert json.loads(json_encode(message.reasoning_details)) == [
        {
            "type": "reasoning.text",
            "text": "Count the letters.",
            "signature": "EqQBCgIYAhIM",
            "format": "anthropic-claude-v1",
            "index": 0,
        },
        {
            "type": "reasoning.encrypted",
            "data": "EmwKAhgBEgy3",
            "format": "anthropic-claude-v1",
            "index": 1,
        },
    ]
    hidden = AnthropicProvider().parse_response(
        _request(reasoning={"effort": "low", "exclude": True}), SONNET_4, raw
    )
    hidden_message = hidden.choices[0].message
    assert isinstance(hidden_message.reasoning_content, msgspec.UnsetType)
    assert isinstance(hidden_message.reasoning_details, msgspec.UnsetType)


def test_litellm_thinking_blocks_are_replayed() -> None:
    call = {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "call it",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "call it", "signature": "sig-1"},
                {"type": "thinking", "thinking": "unsigned, dropped"},
            ],
            "tool_calls": [call],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
    ]
    body = _body(_request(messages=messages, tools=[WEATHER], reasoning_effort="low"))
    assert body["messages"][1]["content"][:2] == [
        {"type": "thinking", "thinking": "call it", "signature": "sig-1"},
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}},
    ]
