"""build_request: URL, headers and the generateContent body (wire-formats §4.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from gemini_helpers import chat, deployment, load_request, provider
from viberouter_gemini import GeminiExtras, decode_tool_call_id, encode_tool_call_id

from router_core.plugin_api import InvalidRequest

_any = msgspec.json.Decoder()
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object"}},
}


def body_of(**fields: Any) -> Any:
    return _any.decode(provider().build_request(chat(**fields), deployment()).body)


def test_composed_example_maps_to_generate_content_shape(gemini_data: Path) -> None:
    req = load_request(gemini_data / "request_composed.json")
    up = provider(api_key="k-123").build_request(req, deployment("gemini-2.5-flash"))
    assert up.method == "POST"
    assert up.url == (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert up.framing == "sse"
    assert up.headers["x-goog-api-key"] == "k-123"
    assert up.headers["content-type"] == "application/json"
    expected = _any.decode((gemini_data / "request_composed.gemini.json").read_bytes())
    assert _any.decode(up.body) == expected


def test_every_option_and_part_kind(gemini_data: Path) -> None:
    req = load_request(gemini_data / "request_full.json")
    extras = GeminiExtras(top_k=40, include_thoughts=True)
    up = provider().build_request(req, deployment("gemini-3-pro-preview"), extras=extras)
    assert up.framing == "json"
    assert up.url.endswith("/models/gemini-3-pro-preview:generateContent")
    assert "x-goog-api-key" not in up.headers
    expected = _any.decode((gemini_data / "request_full.gemini.json").read_bytes())
    assert _any.decode(up.body) == expected


def test_base_url_and_extra_headers_from_settings() -> None:
    plugin = provider(base_url="http://127.0.0.1:9/v1beta/", headers={"x-team": "a"})
    up = plugin.build_request(chat(), deployment())
    assert up.url == "http://127.0.0.1:9/v1beta/models/gemini-2.5-flash:generateContent"
    assert up.headers["x-team"] == "a"
    assert _any.decode(up.body) == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_function_response_names_come_from_the_matching_call() -> None:
    body = body_of(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "function": {"name": "alpha", "arguments": "{}"}},
                    {"id": "c2", "function": {"name": "beta", "arguments": '{"x":1}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "c2", "content": "[1, 2]"},
            {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
            {"role": "user", "content": "thanks"},
        ]
    )
    responses = [p["functionResponse"] for p in body["contents"][2]["parts"]]
    assert responses == [
        {"name": "beta", "response": {"result": "[1, 2]"}},  # not an object: wrapped
        {"name": "alpha", "response": {"ok": True}},
    ]
    assert body["contents"][3] == {"role": "user", "parts": [{"text": "thanks"}]}


def test_unknown_tool_call_id_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=r"messages\[1\]\.tool_call_id"):
        body_of(
            messages=[
                {"role": "user", "content": "go"},
                {"role": "tool", "tool_call_id": "nope", "content": "x"},
            ]
        )


def test_thought_signature_round_trips_through_the_tool_call_id() -> None:
    signature = "Cq8BAXLI2nw+/yE0kz/0wA=="
    call_id = encode_tool_call_id(None, signature, lambda: "call_abc")
    assert call_id == "call_abc__ts_Cq8BAXLI2nw-_yE0kz_0wA"
    assert decode_tool_call_id(call_id) == ("call_abc", signature)
    assert decode_tool_call_id("call_plain") == ("call_plain", None)
    assert encode_tool_call_id("gem-7", None) == "gem-7"
    body = body_of(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [{"id": call_id, "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "done"},
        ]
    )
    assert body["contents"][1]["parts"] == [
        {"functionCall": {"name": "f"}, "thoughtSignature": signature}
    ]
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "f"


@pytest.mark.parametrize(
    ("signature", "length"), [("QQ==", 1), ("QUI=", 2), ("QUJD", 3), ("+/+/", 3)]
)
def test_signature_encoding_is_exact_for_every_padding(signature: str, length: int) -> None:
    call_id = encode_tool_call_id("call_x", signature)
    assert set(call_id) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    assert decode_tool_call_id(call_id) == ("call_x", signature)


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
                },
            },
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_modes(choice: Any, config: dict[str, Any]) -> None:
    body = body_of(tools=[WEATHER_TOOL], tool_choice=choice)
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_allowed_tools_auto_declares_only_the_allowed_tools() -> None:
    other = {"type": "function", "function": {"name": "other"}}
    body = body_of(
        tools=[WEATHER_TOOL, other],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "auto",
                "tools": [{"type": "function", "function": {"name": "other"}}],
            },
        },
    )
    assert body["tools"] == [{"functionDeclarations": [{"name": "other"}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}


def test_response_format_json_object_and_reasoning_budget_on_2_5() -> None:
    body = body_of(response_format={"type": "json_object"}, reasoning_effort="none")
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 0},
    }


def test_stop_list_and_max_tokens() -> None:
    body = body_of(stop=["a", "b"], max_tokens=5, response_format={"type": "text"})
    assert body["generationConfig"] == {"stopSequences": ["a", "b"], "maxOutputTokens": 5}


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"logit_bias": {"50256": -100}}, "logit_bias"),
        ({"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"prediction": {"type": "content", "content": "x"}}, "prediction"),
        ({"web_search_options": {}}, "web_search_options"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"reasoning_effort": "xhigh"}, "reasoning_effort"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "function", "function": {"name": "x"}},
            },
            r"tool_choice\.function\.name",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "https://example.com/cat.png"},
                            }
                        ],
                    }
                ]
            },
            r"messages\[0\]\.content\[0\]\.image_url\.url",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f-1"}}]}
                ]
            },
            r"messages\[0\]\.content\[0\]\.file",
        ),
        (
            {
                "messages": [
                    {
                        "role": "system",
                        "content": [
                            {
                                "type": "image_url",
                                "image_url": {"url": "data:image/png;base64,AA=="},
                            }
                        ],
                    },
                    {"role": "user", "content": "x"},
                ]
            },
            r"messages\[0\]\.content\[0\]",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": '{"a":'}}
                        ],
                    },
                ]
            },
            r"messages\[1\]\.tool_calls\[0\]\.function\.arguments",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
                    },
                ]
            },
            r"messages\[1\]\.tool_calls\[0\]\.function\.arguments",
        ),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, r"messages\[0\]\.role"),
        ({"messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
    ],
)
def test_refused_fields_are_named(fields: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidRequest, match=f"^{path}"):
        body_of(**fields)


def test_thinking_budget_extra_conflicts_with_reasoning_effort() -> None:
    with pytest.raises(InvalidRequest, match=r"^thinking_budget"):
        provider().build_request(
            chat(reasoning_effort="low"), deployment(), extras=GeminiExtras(thinking_budget=100)
        )


def test_audio_and_inline_file_parts_become_inline_data() -> None:
    body = body_of(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {
                        "type": "file",
                        "file": {
                            "filename": "a.pdf",
                            "file_data": "data:application/pdf;base64,JVBERi0=",
                        },
                    },
                ],
            }
        ]
    )
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
    ]
