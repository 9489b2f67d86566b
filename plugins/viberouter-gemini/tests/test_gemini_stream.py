"""The stream translator against recorded-shape upstream bytes (CRLF framing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gemini_helpers import chat, deployment, provider, read_jsonl, to_json, translate

from router_core.plugin_api import ContentFilter, ModelError, UpstreamEvent
from router_core.plugin_testing import check_model_rule, check_stream, split_events
from router_core.plugin_testing import translate as kit_translate


def run(path: Path, **settings: str) -> list[Any]:
    translator = provider(**settings).stream_translator(chat(stream=True), deployment())
    return translate(translator, path.read_bytes())


@pytest.mark.parametrize("name", ["ge1", "text_utf8", "parallel_calls", "safety_finish"])
def test_stream_matches_expected_chunks(gemini_data: Path, name: str) -> None:
    raw = (gemini_data / f"{name}.sse").read_bytes()
    assert b"\r\n\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n\r\n", b"")
    # whole, cut at every byte offset and byte by byte, through the core's framing
    chunks = check_stream(
        lambda: provider().stream_translator(chat(stream=True), deployment()), raw
    )
    assert [to_json(c) for c in chunks] == read_jsonl(gemini_data / f"{name}.expected.jsonl")


def test_ge1_decides_tool_calls_after_a_later_stop(gemini_data: Path) -> None:
    chunks = run(gemini_data / "ge1.sse")
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls"
    assert [c["usage"] for c in chunks if "usage" in c] == [
        {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
    ]


def test_the_utf8_fixture_decodes_whole_in_every_slicing(gemini_data: Path) -> None:
    raw = (gemini_data / "text_utf8.sse").read_bytes()
    whole = split_events(raw)
    assert len(whole) == 4
    assert all("\ufffd" not in e.data for e in whole)
    # every cut (also inside a multi-byte character) translates to the same chunks
    check_stream(lambda: provider().stream_translator(chat(stream=True), deployment()), raw)


def test_prompt_blocked_before_any_output_raises_content_filter(gemini_data: Path) -> None:
    with pytest.raises(ContentFilter) as info:
        run(gemini_data / "prompt_blocked.sse")
    assert info.value.http_status == 400
    assert "PROHIBITED_CONTENT" in (info.value.detail or "")


def test_prompt_blocked_as_empty_choice_when_configured(gemini_data: Path) -> None:
    got = run(gemini_data / "prompt_blocked.sse", blocked_prompt="empty_choice")
    assert got == read_jsonl(gemini_data / "prompt_blocked.empty_choice.expected.jsonl")


def test_prompt_block_after_output_finishes_with_content_filter(gemini_data: Path) -> None:
    chunks = run(gemini_data / "prompt_blocked_late.sse")
    assert [c["choices"][0]["delta"] for c in chunks if c["choices"]][:2] == [
        {"role": "assistant", "content": ""},
        {"content": "Sure: "},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert chunks[-1]["choices"] == []


def test_error_mid_stream_raises_the_mapped_error(gemini_data: Path) -> None:
    translator = provider().stream_translator(chat(stream=True), deployment())
    first, second = split_events((gemini_data / "error_midstream.sse").read_bytes())
    assert [c.choices[0].delta.content for c in translator.feed(first)] == ["", "Partial"]
    with pytest.raises(ModelError) as info:
        translator.feed(second)
    assert info.value.retryable is True
    assert "overloaded" in (info.value.detail or "")


def test_stream_without_finish_reason_ended_early(gemini_data: Path) -> None:
    translator = provider().stream_translator(chat(stream=True), deployment())
    for event in split_events((gemini_data / "no_finish.sse").read_bytes()):
        translator.feed(event)
    with pytest.raises(ModelError, match="ended early"):
        translator.close()


def test_empty_stream_ended_early() -> None:
    translator = provider().stream_translator(chat(stream=True), deployment())
    with pytest.raises(ModelError, match="ended early"):
        translator.close()


def test_garbage_event_is_a_model_error() -> None:
    translator = provider().stream_translator(chat(stream=True), deployment())
    assert translator.feed(UpstreamEvent(data="  ")) == []
    with pytest.raises(ModelError, match="malformed"):
        translator.feed(UpstreamEvent(data="{not json"))


@pytest.mark.parametrize("named", [True, False])
def test_stream_follows_the_model_rule(gemini_data: Path, named: bool) -> None:
    raw = (gemini_data / "text_utf8.sse").read_bytes()
    assert raw.count(b'"modelVersion":"gemini-2.5-pro"') == 4  # every event names it
    if not named:
        raw = raw.replace(b'"modelVersion":"gemini-2.5-pro"', b'"modelVersion":""')
    dep = deployment("gemini-2.5-pro-custom")
    translator = provider().stream_translator(chat(model="my-alias", stream=True), dep)
    chunks = kit_translate(translator, raw)
    check_model_rule(chunks, dep, "gemini-2.5-pro" if named else None)


def test_response_follows_the_model_rule(gemini_data: Path) -> None:
    raw = (gemini_data / "response_tools.json").read_bytes()
    dep = deployment("gemini-alias-target")
    named = provider().parse_response(chat(model="my-alias"), dep, raw)
    check_model_rule(named, dep, json.loads(raw)["modelVersion"])
    doc = json.loads(raw)
    del doc["modelVersion"]
    unnamed = provider().parse_response(chat(model="my-alias"), dep, json.dumps(doc).encode())
    check_model_rule(unnamed, dep, None)
