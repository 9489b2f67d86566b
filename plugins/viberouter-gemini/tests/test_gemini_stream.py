"""The stream translator against recorded-shape upstream bytes (CRLF framing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gemini_sse import SseSplitter, chat, deployment, provider, read_jsonl, split_sse, translate

from router_core.plugin_api import ContentFilter, ModelError, UpstreamEvent


def run(path: Path, **settings: str) -> list[Any]:
    translator = provider(**settings).stream_translator(chat(stream=True), deployment())
    return translate(translator, split_sse(path.read_bytes()))


@pytest.mark.parametrize("name", ["ge1", "text_utf8", "parallel_calls", "safety_finish"])
def test_stream_matches_expected_chunks(gemini_data: Path, name: str) -> None:
    raw = (gemini_data / f"{name}.sse").read_bytes()
    assert b"\r\n\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n\r\n", b"")
    got = run(gemini_data / f"{name}.sse")
    assert got == read_jsonl(gemini_data / f"{name}.expected.jsonl")


def test_ge1_decides_tool_calls_after_a_later_stop(gemini_data: Path) -> None:
    chunks = run(gemini_data / "ge1.sse")
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish[-1] == "tool_calls"
    assert [c["usage"] for c in chunks if "usage" in c] == [
        {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
    ]


def test_every_split_of_the_utf8_fixture_gives_the_same_events(gemini_data: Path) -> None:
    raw = (gemini_data / "text_utf8.sse").read_bytes()
    whole = split_sse(raw)
    assert len(whole) == 4
    for cut in range(1, len(raw)):
        splitter = SseSplitter()
        assert splitter.feed(raw[:cut]) + splitter.feed(raw[cut:]) == whole, cut
    splitter = SseSplitter()
    one_by_one = [e for i in range(len(raw)) for e in splitter.feed(raw[i : i + 1])]
    assert one_by_one == whole
    assert all("\ufffd" not in e.data for e in whole)


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
    first, second = split_sse((gemini_data / "error_midstream.sse").read_bytes())
    assert [c.choices[0].delta.content for c in translator.feed(first)] == ["", "Partial"]
    with pytest.raises(ModelError) as info:
        translator.feed(second)
    assert info.value.retryable is True
    assert "overloaded" in (info.value.detail or "")


def test_stream_without_finish_reason_ended_early(gemini_data: Path) -> None:
    translator = provider().stream_translator(chat(stream=True), deployment())
    for event in split_sse((gemini_data / "no_finish.sse").read_bytes()):
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
