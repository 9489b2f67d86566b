"""Request building: OpenAI-shaped ChatRequest -> Anthropic Messages API request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fake_anthropic import check_messages_request
from viberouter_anthropic import AnthropicExtras, AnthropicProvider, AnthropicSettings

from router_core.plugin_api import (
    ChatRequest,
    InvalidRequest,
    ModelCard,
    UpstreamRequest,
)
from router_core.plugin_testing import deployment

DEPLOYMENT = deployment(
    "claude-sonnet-4-20250514",
    provider="anthropic",
    card=ModelCard(id="claude-sonnet-4-20250514", max_output_tokens=4096),
)
USER_HI: dict[str, Any] = {"role": "user", "content": "hi"}
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
}


def _request(**fields: Any) -> ChatRequest:
    fields.setdefault("model", "anthropic/claude-sonnet-4")
    fields.setdefault("messages", [USER_HI])
    return msgspec.convert(fields, ChatRequest)


def _build(
    request: ChatRequest,
    *,
    settings: AnthropicSettings | None = None,
    extras: AnthropicExtras | None = None,
) -> UpstreamRequest:
    return AnthropicProvider(settings).build_request(request, DEPLOYMENT, extras=extras)


def _body(request: ChatRequest, **kwargs: Any) -> dict[str, Any]:
    upstream = _build(request, **kwargs)
    body: dict[str, Any] = json.loads(upstream.body)
    # Whatever we build must also pass the fake upstream's Messages API checks.
    assert check_messages_request(body) == []
    return body


def test_composed_example_becomes_the_documented_body(anthropic_data: Path) -> None:
    raw = (anthropic_data / "request_composed.openai.json").read_bytes()
    request = msgspec.json.decode(raw, type=ChatRequest)
    settings = AnthropicSettings(api_key="sk-ant-test")
    upstream = _build(request, settings=settings)
    expected = json.loads((anthropic_data / "request_composed.anthropic.json").read_text())
    assert json.loads(upstream.body) == expected
    assert upstream.method == "POST"
    assert upstream.url == "https://api.anthropic.com/v1/messages"
    assert upstream.framing == "sse"
    assert upstream.headers == {
        "x-api-key": "sk-ant-test",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }


def test_headers_beta_extra_and_keyless() -> None:
    settings = AnthropicSettings(
        base_url="http://127.0.0.1:9/proxy/",
        beta=["a-2025-01-01", "b-2025-02-02"],
        headers={"x-trace": "1"},
        anthropic_version="2099-01-01",
    )
    upstream = _build(_request(), settings=settings)
    assert upstream.url == "http://127.0.0.1:9/proxy/v1/messages"
    assert upstream.framing == "json"
    assert "x-api-key" not in upstream.headers
    assert upstream.headers["anthropic-beta"] == "a-2025-01-01,b-2025-02-02"
    assert upstream.headers["anthropic-version"] == "2099-01-01"
    assert upstream.headers["x-trace"] == "1"


def test_settings_forbid_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError, match="api_kye"):
        msgspec.convert({"api_kye": "x"}, AnthropicSettings)


def test_system_and_developer_anywhere_are_hoisted_in_order() -> None:
    body = _body(
        _request(
            messages=[
                {"role": "system", "content": "Be terse."},
                USER_HI,
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                {"role": "assistant", "content": "Hello."},
                {"role": "system", "content": ""},
                {"role": "user", "content": "Temp?"},
            ]
        )
    )
    assert body["system"] == [
        {"type": "text", "text": "Be terse."},
        {"type": "text", "text": "Use metric."},
    ]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert "stream" not in body


def test_images_data_url_and_http_url() -> None:
    parts = [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"},
        },
        {"type": "text", "text": ""},
    ]
    body = _body(_request(messages=[{"role": "user", "content": parts}]))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    ("part", "field"),
    [
        (
            {"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}},
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}},
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}},
            "messages[0].content[1].image_url.url",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            "messages[0].content[1]",
        ),
        ({"type": "file", "file": {"file_id": "file-1"}}, "messages[0].content[1]"),
    ],
)
def test_unsupported_parts_are_refused_by_path(part: dict[str, Any], field: str) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "x"}, part]}
    with pytest.raises(InvalidRequest) as info:
        _build(_request(messages=[message]))
    assert info.value.message.startswith(field + ":")


def test_image_in_system_message_is_refused() -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    with pytest.raises(InvalidRequest, match=r"^messages\[0\]\.content\[0\]:"):
        _build(_request(messages=[{"role": "system", "content": [image]}, USER_HI]))


def test_tool_results_grouped_with_following_user_text() -> None:
    messages = [
        USER_HI,
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "4C"}]},
        {"role": "tool", "tool_call_id": "c2", "content": ""},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "user", "content": [{"type": "text", "text": "Briefly."}]},
    ]
    body = _body(_request(messages=messages, tools=[WEATHER_TOOL]))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {}},
                {"type": "tool_use", "id": "c2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "c1",
                    "content": [{"type": "text", "text": "4C"}],
                },
                {"type": "tool_result", "tool_use_id": "c2"},
                {"type": "text", "text": "And tomorrow?"},
                {"type": "text", "text": "Briefly."},
            ],
        },
    ]


def test_consecutive_assistant_turns_are_merged() -> None:
    messages = [
        USER_HI,
        {"role": "assistant", "content": "a"},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
    ]
    body = _body(_request(messages=messages))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "no"}],
    }


@pytest.mark.parametrize("arguments", ['{"city": ', "[1, 2]", "null"])
def test_invalid_tool_arguments_are_refused_by_path(arguments: str) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    messages = [USER_HI, {"role": "assistant", "content": None, "tool_calls": [call]}]
    with pytest.raises(InvalidRequest) as info:
        _build(_request(messages=messages))
    assert info.value.message.startswith("messages[1].tool_calls[0].function.arguments:")


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        ([{"role": "assistant", "content": "prefill"}, USER_HI], "messages:"),
        ([{"role": "system", "content": "only system"}], "messages:"),
        ([USER_HI, {"role": "tool", "content": "x"}], "messages[1].tool_call_id:"),
        ([USER_HI, {"role": "function", "name": "f", "content": "x"}], "messages[1].role:"),
    ],
)
def test_unservable_conversations_are_refused(messages: list[Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _build(_request(messages=messages))
    assert info.value.message.startswith(field)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            {"type": "tool", "name": "get_weather"},
        ),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({}, None),
    ],
)
def test_tool_choice_mapping(fields: dict[str, Any], expected: dict[str, Any] | None) -> None:
    body = _body(_request(tools=[WEATHER_TOOL], **fields))
    assert body.get("tool_choice") == expected


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "now", "description": "Time", "strict": True}}
    body = _body(_request(tools=[tool]))
    assert body["tools"] == [
        {
            "name": "now",
            "description": "Time",
            "input_schema": {"type": "object", "properties": {}},
        },
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (
            {
                "tool_choice": {"type": "function", "function": {"name": "nope"}},
                "tools": [WEATHER_TOOL],
            },
            "tool_choice.function.name:",
        ),
        (
            {
                "tool_choice": {
                    "type": "allowed_tools",
                    "allowed_tools": {"mode": "auto", "tools": []},
                },
                "tools": [WEATHER_TOOL],
            },
            "tool_choice:",
        ),
        ({"tool_choice": "required"}, "tool_choice:"),
    ],
)
def test_bad_tool_choice_is_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _build(_request(**fields))
    assert info.value.message.startswith(field)


@pytest.mark.parametrize(
    ("fields", "max_tokens"),
    [
        ({"max_completion_tokens": 100, "max_tokens": 200}, 100),
        ({"max_tokens": 200}, 200),
        ({}, 4096),
    ],
)
def test_max_tokens_precedence(fields: dict[str, Any], max_tokens: int) -> None:
    assert _body(_request(**fields))["max_tokens"] == max_tokens


def test_sampling_stop_user_and_extras() -> None:
    body = _body(
        _request(
            temperature=1.7,
            top_p=0.9,
            stop="END",
            user="user-42",
            seed=7,
            store=True,
            metadata={"k": "v"},
            stream=True,
            stream_options={"include_usage": True},
            n=1,
            presence_penalty=0,
            response_format={"type": "text"},
        ),
        extras=AnthropicExtras(top_k=40),
    )
    assert body["temperature"] == 1.0  # clamped from OpenAI's 0..2 to Anthropic's 0..1
    assert body["top_p"] == 0.9
    assert body["top_k"] == 40
    assert body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "user-42"}
    assert body["stream"] is True
    for dropped in ("seed", "store", "stream_options", "n", "presence_penalty", "thinking"):
        assert dropped not in body


def test_thinking_budget_extra_fixes_the_sampling() -> None:
    # Anthropic refuses temperature / top_k changes and top_p below 0.95 while thinking.
    body = _body(
        _request(temperature=0.7, top_p=0.9),
        extras=AnthropicExtras(top_k=40, thinking_budget=2048),
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    for dropped in ("temperature", "top_p", "top_k"):
        assert dropped not in body
    assert (
        _body(_request(top_p=0.97), extras=AnthropicExtras(thinking_budget=2048))["top_p"] == 0.97
    )


def test_low_temperature_and_stop_list_pass_through() -> None:
    body = _body(_request(temperature=0.2, stop=["a", "b"]))
    assert body["temperature"] == 0.2
    assert body["stop_sequences"] == ["a", "b"]


def test_thinking_budget_must_fit_below_max_tokens() -> None:
    with pytest.raises(InvalidRequest, match=r"^thinking_budget:"):
        _build(_request(max_tokens=1500), extras=AnthropicExtras(thinking_budget=2048))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"frequency_penalty": -0.1}, "frequency_penalty"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"verbosity": "low"}, "verbosity"),
    ],
)
def test_fields_anthropic_cannot_honour_are_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _build(_request(**fields))
    assert info.value.message.startswith(f"{field}:")
    assert info.value.http_status == 400


def test_tool_results_open_the_user_turn_even_after_stray_user_text() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        USER_HI,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "user", "content": "note"},
        {"role": "tool", "tool_call_id": "c1", "content": "4C"},
    ]
    body = _body(_request(messages=messages, tools=[WEATHER_TOOL]))
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "4C"},
        {"type": "text", "text": "note"},
    ]
