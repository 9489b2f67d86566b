"""Stream translation: recorded-shape Anthropic SSE fixtures -> exact OpenAI chunks."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from viberouter_anthropic import AnthropicProvider, AnthropicStreamTranslator

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChatRequest,
    ModelError,
    UpstreamEvent,
    json_encode,
)
from router_core.plugin_testing import (
    check_model_rule,
    check_stream,
    deployment,
    split_events,
    translate,
)


def _translator(
    model: str = "claude-test", *, include_usage: bool = True
) -> AnthropicStreamTranslator:
    return AnthropicStreamTranslator(
        model, include_usage=include_usage, completion_id="chatcmpl-test", created=1700000000
    )


def _feed_all(translator: AnthropicStreamTranslator, raw: bytes) -> list[ChatCompletionChunk]:
    return translate(translator, raw, close=False)


def _lines(chunks: list[ChatCompletionChunk]) -> list[str]:
    return [json_encode(c).decode() for c in chunks]


def _expected(data: Path, name: str) -> list[str]:
    return (data / f"{name}.expected.jsonl").read_text(encoding="utf-8").splitlines()


def test_an1_matches_the_documented_translation(anthropic_data: Path) -> None:
    # The documented translation, with the model as message_start names it (the
    # contract's model rule) rather than the name passed in for streams that name none.
    translator = AnthropicStreamTranslator(
        "claude-sonnet-4",
        include_usage=True,
        completion_id="chatcmpl-fx01",
        created=1700000100,
    )
    chunks = _feed_all(translator, (anthropic_data / "an1.sse").read_bytes())
    chunks += translator.close()
    assert _lines(chunks) == _expected(anthropic_data, "an1")


@pytest.mark.parametrize(
    ("name", "include_usage"),
    [
        ("tool_parallel", False),
        ("tool_single_split", True),
        ("tool_zero_args", True),
        ("utf8_text", True),
        ("thinking", True),
    ],
)
def test_fixture_streams_translate_exactly(
    anthropic_data: Path, name: str, include_usage: bool
) -> None:
    raw = (anthropic_data / f"{name}.sse").read_bytes()
    # whole, cut at every byte offset and byte by byte, through the core's framing
    chunks = check_stream(lambda: _translator(include_usage=include_usage), raw)
    assert _lines(chunks) == _expected(anthropic_data, name)


def test_parallel_tool_arguments_reassemble_to_json(anthropic_data: Path) -> None:
    chunks = _feed_all(_translator(), (anthropic_data / "tool_parallel.sse").read_bytes())
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            if isinstance(choice.delta.tool_calls, list):
                for tc in choice.delta.tool_calls:
                    call = calls.setdefault(tc.index, {"id": "", "args": ""})
                    if isinstance(tc.id, str):
                        call["id"] = tc.id
                    if not isinstance(tc.function, msgspec.UnsetType) and isinstance(
                        tc.function.arguments, str
                    ):
                        call["args"] += tc.function.arguments
    assert sorted(calls) == [0, 1, 2]  # dense, although Anthropic blocks were 1..3
    assert [calls[i]["id"] for i in range(3)] == ["toolu_p1", "toolu_p2", "toolu_p3"]
    assert [json.loads(calls[i]["args"]) for i in range(3)] == [
        {"city": "Oslo"},
        {"tz": "Europe/Rome"},
        {"city": "Paris"},
    ]


def test_error_event_mid_stream_raises_overloaded(anthropic_data: Path) -> None:
    translator = _translator()
    events = split_events((anthropic_data / "error_midstream.sse").read_bytes())
    chunks: list[ChatCompletionChunk] = []
    with pytest.raises(ModelError) as info:
        for event in events:
            chunks += translator.feed(event)
    assert _lines(chunks) == _expected(anthropic_data, "error_midstream")
    assert info.value.retryable
    assert "overloaded" in info.value.message.lower()
    assert info.value.detail is not None and "overloaded_error" in info.value.detail
    assert not any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_error_as_first_event_raises_before_any_chunk(anthropic_data: Path) -> None:
    translator = _translator()
    (event,) = split_events((anthropic_data / "error_first.sse").read_bytes())
    with pytest.raises(ModelError) as info:
        translator.feed(event)
    assert info.value.retryable and info.value.http_status == 503  # overloaded: unavailable


def test_stream_without_message_stop_fails_on_close(anthropic_data: Path) -> None:
    translator = _translator()
    chunks = _feed_all(translator, (anthropic_data / "truncated.sse").read_bytes())
    assert _lines(chunks) == _expected(anthropic_data, "truncated")
    with pytest.raises(ModelError, match="ended early"):
        translator.close()


def test_events_after_message_stop_are_ignored(anthropic_data: Path) -> None:
    translator = _translator()
    _feed_all(translator, (anthropic_data / "an1.sse").read_bytes())
    late = UpstreamEvent(
        data='{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
        event="content_block_delta",
    )
    assert translator.feed(late) == []
    assert translator.close() == []


def test_event_name_falls_back_to_json_type(anthropic_data: Path) -> None:
    # Same bytes, but as a core that dropped the `event:` field would feed them.
    translator = _translator()
    named = split_events((anthropic_data / "utf8_text.sse").read_bytes())
    chunks: list[ChatCompletionChunk] = []
    for event in named:
        chunks += translator.feed(UpstreamEvent(data=event.data))
    assert _lines(chunks + translator.close()) == _expected(anthropic_data, "utf8_text")


def test_malformed_event_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="malformed"):
        _translator().feed(UpstreamEvent(data="{not json", event="content_block_delta"))


def test_provider_translator_names_the_upstream_model_and_uses_one_id(anthropic_data: Path) -> None:
    request = msgspec.convert(
        {
            "model": "anthropic/claude",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
        },
        ChatRequest,
    )
    dep = deployment("claude-sonnet-4", provider="anthropic")
    translator = AnthropicProvider().stream_translator(request, dep)
    chunks = translate(translator, (anthropic_data / "an1.sse").read_bytes(), close=False)
    assert {c.id for c in chunks} == {chunks[0].id}
    assert chunks[0].id.startswith("chatcmpl-")
    assert {c.created for c in chunks} == {chunks[0].created}
    # the model that answered as Anthropic names it in message_start (the model rule),
    # not the (possibly fallback) name the client sent
    check_model_rule(chunks, dep, "claude-sonnet-4-20250514")
    # The client did not ask for usage: content chunks carry no "usage" key at all.
    assert b'"usage"' not in json_encode(chunks[1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_a_stream_whose_upstream_names_no_model_names_the_deployments(
    anthropic_data: Path,
) -> None:
    raw = (anthropic_data / "utf8_text.sse").read_bytes()
    unnamed = raw.replace(b'"model":"claude-opus-4-1-20250805"', b'"model":""')
    assert unnamed != raw
    dep = deployment("claude-opus-4-1", provider="anthropic")
    request = msgspec.convert(
        {"model": "alias", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        ChatRequest,
    )
    chunks = translate(AnthropicProvider().stream_translator(request, dep), unnamed)
    check_model_rule(chunks, dep, None)
