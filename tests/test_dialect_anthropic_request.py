"""router_core/dialects/anthropic_messages decode + to_chat: Messages requests into the
canonical chat form (byte-exact fixture), and every refusal naming its field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router_core.api.chat import ChatRequest, FilePart, ImagePart, TextPart
from router_core.dialects.anthropic_messages import decode_messages, to_chat
from router_core.dialects.anthropic_messages.decode import field_path
from router_core.errors import InvalidRequest

DATA = Path(__file__).parent / "data" / "anthropic_dialect"


def _body(**fields: Any) -> bytes:
    doc: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    doc.update(fields)
    return json.dumps(doc).encode()


def _chat(**fields: Any) -> ChatRequest:
    return to_chat(decode_messages(_body(**fields))).request


def test_full_request_translates_byte_for_byte() -> None:
    translated = to_chat(decode_messages((DATA / "request_full.messages.json").read_bytes()))
    assert translated.body() + b"\n" == (DATA / "request_full.chat.json").read_bytes()
    # The canonical body is what the extras decoders of plugins read.
    assert translated.extras == {"top_k": 40, "include_thoughts": True}


def test_canonical_body_decodes_as_a_chat_request() -> None:
    translated = to_chat(decode_messages((DATA / "request_full.messages.json").read_bytes()))
    from router_core.dialects.openai_chat import decode_request

    again = decode_request(translated.body())
    assert again == translated.request


def test_plain_strings_stay_strings() -> None:
    chat = _chat(system="Be brief.")
    assert [(m.role, m.content) for m in chat.messages] == [
        ("system", "Be brief."),
        ("user", "Hello"),
    ]
    assert chat.stream is False and chat.stream_options is None
    assert chat.max_tokens == 1024


def test_tool_results_open_the_turn_even_when_sent_after_text() -> None:
    chat = _chat(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "here:"},
                    {"type": "tool_result", "tool_use_id": "t1"},
                ],
            },
        ]
    )
    assert [m.role for m in chat.messages] == ["user", "assistant", "tool", "user"]
    assert chat.messages[2].content == ""
    assert chat.messages[3].content == "here:"


def test_tool_result_blocks_keep_images() -> None:
    chat = _chat(
        messages=[
            {"role": "user", "content": "Shot?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": "screen:"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/jpeg",
                                    "data": "AA==",
                                },
                            },
                        ],
                    }
                ],
            },
        ]
    )
    content = chat.messages[2].content
    assert isinstance(content, list)
    assert isinstance(content[0], TextPart) and isinstance(content[1], ImagePart)
    assert content[1].image_url.url == "data:image/jpeg;base64,AA=="


def test_documents_become_text_or_file_parts() -> None:
    chat = _chat(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
                    },
                    {
                        "type": "document",
                        "title": "a.pdf",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": "JVBE",
                        },
                    },
                ],
            }
        ]
    )
    content = chat.messages[0].content
    assert isinstance(content, list)
    assert content[0] == TextPart(text="notes")
    assert isinstance(content[1], FilePart)
    file = content[1].file
    assert file.filename == "a.pdf" and file.file_data == "data:application/pdf;base64,JVBE"


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        ({"type": "auto"}, "auto", None),
        ({"type": "auto", "disable_parallel_tool_use": True}, "auto", False),
        ({"type": "any"}, "required", None),
        ({"type": "none"}, "none", None),
        ({"type": "tool", "name": "w"}, {"type": "function", "function": {"name": "w"}}, None),
    ],
)
def test_tool_choice_forms(choice: dict[str, Any], expected: Any, parallel: bool | None) -> None:
    import msgspec

    chat = _chat(tools=[{"name": "w", "input_schema": {"type": "object"}}], tool_choice=choice)
    assert msgspec.to_builtins(chat.tool_choice) == expected
    assert chat.parallel_tool_calls is parallel


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"max_tokens": 8192, "thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"max_tokens": 8192, "thinking": {"type": "enabled", "budget_tokens": 4096}}, "medium"),
        ({"max_tokens": 64000, "thinking": {"type": "enabled", "budget_tokens": 32000}}, "high"),
        ({"thinking": {"type": "adaptive"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "high"),
        ({"output_config": {"effort": "low"}}, "low"),
        ({"thinking": {"type": "disabled"}}, None),
        ({}, None),
    ],
)
def test_thinking_becomes_reasoning_effort(fields: dict[str, Any], effort: str | None) -> None:
    translated = to_chat(decode_messages(_body(**fields)))
    assert translated.request.reasoning_effort == effort
    assert translated.extras.get("include_thoughts") is (True if effort else None)


def test_structured_output_becomes_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    for fields in (
        {"output_config": {"format": {"type": "json_schema", "schema": schema}}},
        {"output_format": {"type": "json_schema", "schema": schema}},
    ):
        fmt = _chat(**fields).response_format
        assert fmt is not None and fmt.type == "json_schema"
        assert fmt.json_schema and fmt.json_schema.schema == schema


def test_history_thinking_is_left_behind_and_cache_control_too() -> None:
    chat = _chat(
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "redacted_thinking", "data": "abc"},
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                ],
            },
            {"role": "user", "content": "again"},
        ]
    )
    # An assistant turn of only thinking carries nothing another provider can use.
    assert [(m.role, m.content) for m in chat.messages] == [("user", "hi"), ("user", "again")]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"container": "c_1"}, "container"),
        ({"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools.0.type"),
        ({"stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences"),
        ({"tool_choice": {"type": "any"}}, "tool_choice.type"),
        (
            {
                "tools": [{"name": "w", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "x"},
            },
            "tool_choice.name",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
        ({"output_config": {"format": {"type": "regex"}}}, "output_config.format.type"),
        (
            {"system": [{"type": "image", "source": {"type": "url", "url": "https://x"}}]},
            "system.0.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "search_result", "source": "s", "title": "t", "content": []}
                        ],
                    }
                ]
            },
            "messages.0.content.0.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ]
            },
            "messages.0.content.0.source.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {"type": "url", "url": "https://x/a.pdf"},
                            }
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "server_tool_use",
                                "id": "s",
                                "name": "web_search",
                                "input": {},
                            }
                        ],
                    },
                ]
            },
            "messages.1.content.0.type",
        ),
    ],
)
def test_untranslatable_fields_are_refused_by_name(fields: dict[str, Any], field: str) -> None:
    if field == "thinking.budget_tokens" and "budget_tokens" in fields["thinking"]:
        fields = {**fields, "max_tokens": 2048}
    with pytest.raises(InvalidRequest) as info:
        to_chat(decode_messages(_body(**fields)))
    assert info.value.message.startswith(f"{field}: "), info.value.message
    assert info.value.http_status == 400


def test_lenient_translation_skips_what_it_cannot_carry() -> None:
    req = decode_messages(
        _body(
            container="c_1",
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "search_result", "source": "s", "title": "t", "content": []},
                        {"type": "text", "text": "kept"},
                    ],
                }
            ],
        )
    )
    chat = to_chat(req, strict=False).request
    assert chat.tools is None
    assert chat.messages[0].content == "kept"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "The request body is empty; send a JSON object"),
        (b'{"model":"m","messages":[{"role":"user","content":"x"}]}', "max_tokens: Field required"),
        (
            b'{"model":"m","max_tokens":1,"messages":[]}',
            "messages: at least one message is required",
        ),
        (
            b'{"model":"m","max_tokens":"x","messages":[]}',
            "max_tokens: Expected `int`, got `str`",
        ),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}',
            "messages.0.role: Invalid enum value 'system'",
        ),
        (
            b'{"model":"m","max_tokens":1,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}',
            "temperature: Expected `float` <= 1.0",
        ),
    ],
)
def test_decode_errors_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_messages(body)
    assert info.value.message == message


def test_count_tokens_bodies_need_no_max_tokens() -> None:
    req = decode_messages(
        b'{"model":"m","messages":[{"role":"user","content":"x"}]}', count_tokens=True
    )
    assert to_chat(req).request.max_tokens is None


def test_malformed_json_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_messages(b"{nope")
    assert info.value.message.startswith("There was an issue with the JSON body")


def test_field_path_without_a_location_is_unchanged() -> None:
    assert field_path("Object missing required field `model`") == (
        "Object missing required field `model`"
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"\xff"}]}',
            "There was an issue with the JSON body: invalid UTF-8",
        ),
        (b'{"model":"m","x":' + b"[" * 5000 + b"]" * 5000 + b"}", "There was an issue"),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}],'
            b'"tools":[{"name":"t","input_schema":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}]}",
            "Invalid request: `tools.0.input_schema` is nested more than",
        ),
        (
            b'{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":[{"type":'
            b'"tool_use","id":"t","name":"n","input":' + b"[" * 100 + b"]" * 100 + b"}]}]}",
            "Invalid request: `messages.0.content.0.input` is nested more than",
        ),
    ],
    ids=["utf8", "deep-json", "deep-schema", "deep-tool-input"],
)
def test_hostile_bodies_are_400s(body: bytes, says: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        decode_messages(body)
    assert info.value.message.startswith(says), info.value.message
