"""Non-streamed bodies: tolerant decode and the finish_reason rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viberouter_openai import OpenAIProvider

from router_core.plugin_api import ContextLengthExceeded, ModelError, json_encode
from router_core.plugin_testing import check_model_rule, decode_request, deployment

DEP = deployment("gpt-4o", provider="openai")

_REQ = decode_request(b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}')


def _parse(body: bytes) -> dict[str, object]:
    completion = OpenAIProvider().parse_response(_REQ, DEP, body)
    doc: dict[str, object] = json.loads(json_encode(completion))
    return doc


def test_openai_response_tool_call_completion(openai_data: Path) -> None:
    raw = (openai_data / "openai_completion_tools.json").read_bytes()
    upstream = json.loads(raw)
    del upstream["choices"][0]["message"]["annotations"]  # not part of the canonical type
    assert _parse(raw) == upstream


def test_openai_response_leading_whitespace_and_stop_with_tool_calls(openai_data: Path) -> None:
    raw = (openai_data / "openai_completion_whitespace.json").read_bytes()
    assert raw.startswith(b"\n")
    doc = _parse(raw)
    choices = doc["choices"]
    assert isinstance(choices, list) and len(choices) == 1
    choice = choices[0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == ""
    assert message["reasoning_content"] == "Need the clock."
    assert message["tool_calls"] == [
        {"id": "call_T", "function": {"name": "get_time", "arguments": "{}"}, "type": "function"}
    ]
    assert doc["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 5,
        "total_tokens": 25,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0, "cache_write_tokens": 0},
        "cost": 0.0001,
    }
    assert doc["id"] == "gen-fx15" and doc["model"] == "openai/gpt-4o"


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>502 Bad Gateway</html>", b'{"choices":[]}', b'{"id":"x"}', b'{"choices":7}'],
)
def test_openai_response_garbage_is_a_model_error(body: bytes) -> None:
    with pytest.raises(ModelError):
        _parse(body)


def test_openai_response_error_body_with_200_is_mapped() -> None:
    body = (
        b'{"error":{"code":400,"message":"too long",'
        b'"metadata":{"error_type":"context_length_exceeded"}}}'
    )
    with pytest.raises(ContextLengthExceeded):
        _parse(body)


def test_openai_response_content_parts_are_joined() -> None:
    body = (
        b'{"id":"c","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant",'
        b'"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},'
        b'"finish_reason":"stop"}]}'
    )
    doc = _parse(body)
    assert doc["choices"][0]["message"]["content"] == "ab"  # type: ignore[index]


def test_openai_response_follows_the_model_rule(openai_data: Path) -> None:
    alias = decode_request(b'{"model":"my-alias","messages":[{"role":"user","content":"hi"}]}')
    raw = (openai_data / "openai_completion_tools.json").read_bytes()
    named = OpenAIProvider().parse_response(alias, DEP, raw)
    check_model_rule(named, DEP, json.loads(raw)["model"])
    doc = json.loads(raw)
    doc["model"] = ""
    unnamed = OpenAIProvider().parse_response(alias, DEP, json.dumps(doc).encode())
    check_model_rule(unnamed, DEP, None)
