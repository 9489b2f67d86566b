"""The stream normaliser against recorded-shape fixtures (wire-formats §1.6, §2.4, §5.2, §6)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from viberouter_openai import OpenAIProvider

from router_core.plugin_api import (
    ChatCompletionChunk,
    ContextLengthExceeded,
    FunctionDelta,
    InvalidRequest,
    ModelError,
    RouterError,
    StreamTranslator,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
)
from router_core.plugin_testing import (
    as_lines,
    check_model_rule,
    check_stream,
    decode_request,
    deployment,
    translate,
)

DEP = deployment("gpt-4o", provider="openai")

_REQ = decode_request(
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}'
)
_HEAD = '"id":"c1","object":"chat.completion.chunk","created":5,"model":"m"'


def _translator() -> StreamTranslator:
    return OpenAIProvider().stream_translator(_REQ, DEP)


def _events(*payloads: str) -> bytes:
    return "".join(f"data: {p}\n\n" for p in payloads).encode()


def _chunk(choices: str, extra: str = "") -> str:
    return "{" + _HEAD + ',"choices":' + choices + extra + "}"


def _tool_deltas(chunks: list[ChatCompletionChunk]) -> list[ToolCallDelta]:
    return [
        d
        for c in chunks
        for ch in c.choices
        if isinstance(ch.delta.tool_calls, list)
        for d in ch.delta.tool_calls
    ]


@pytest.mark.parametrize("name", ["oa1", "oa2", "openrouter", "index_collision"])
def test_openai_stream_fixture(openai_data: Path, name: str) -> None:
    raw = (openai_data / f"openai_{name}.sse").read_bytes()
    expected = (openai_data / f"openai_{name}.expected.jsonl").read_text("utf-8")
    # whole, cut at every byte offset and byte by byte, through the core's framing
    assert as_lines(check_stream(_translator, raw)) == expected


@pytest.mark.parametrize(
    ("name", "upstream_model"),
    [("oa1", "gpt-4o-2024-08-06"), ("openrouter", "anthropic/claude-haiku-4.5")],
)
def test_openai_stream_follows_the_model_rule(
    openai_data: Path, name: str, upstream_model: str
) -> None:
    # the client asked for an alias: the chunks name the model the upstream reported
    req = msgspec.structs.replace(_REQ, model="my-alias")
    raw = (openai_data / f"openai_{name}.sse").read_bytes()
    check_model_rule(
        translate(OpenAIProvider().stream_translator(req, DEP), raw), DEP, upstream_model
    )


def test_openai_stream_model_is_fixed_by_the_first_chunk_out() -> None:
    choice = '[{"index":0,"delta":{"role":"assistant","content":"x"},"finish_reason":null}]'
    finish = '[{"index":0,"delta":{},"finish_reason":"stop"}]'
    head = '{"id":"c1","object":"chat.completion.chunk","created":5,"model":'
    raw = _events(
        head + '"","choices":[],"prompt_filter_results":[]}',  # Azure: no model yet
        head + '"gpt-4o-2024-11-20","choices":' + choice + "}",
        head + '"gpt-4o-other","choices":' + finish + "}",
        "[DONE]",
    )
    check_model_rule(translate(_translator(), raw), DEP, "gpt-4o-2024-11-20")
    unnamed = _events(
        head + '"","choices":' + choice + "}", head + '"","choices":' + finish + "}", "[DONE]"
    )
    check_model_rule(translate(_translator(), unnamed), DEP, None)  # the deployment's model


def test_openai_stream_usage_is_emitted_once_at_done(openai_data: Path) -> None:
    translator = _translator()
    chunks = translate(
        translator, (openai_data / "openai_openrouter.sse").read_bytes(), close=False
    )
    assert [c.choices == [] for c in chunks].count(True) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert translator.close() == []


def test_openai_stream_usage_at_close_when_done_is_missing(openai_data: Path) -> None:
    raw = (openai_data / "openai_oa1.sse").read_bytes().replace(b"data: [DONE]\n\n", b"")
    translator = _translator()
    chunks = translate(translator, raw, close=False)
    assert all(c.choices for c in chunks)
    (usage_chunk,) = translator.close()
    assert usage_chunk.choices == []
    assert isinstance(usage_chunk.usage, Usage)
    assert usage_chunk.usage.total_tokens == 13


def test_openai_stream_in_band_openai_error(openai_data: Path) -> None:
    translator = _translator()
    events = (openai_data / "openai_error_inband.sse").read_bytes()
    with pytest.raises(ModelError) as caught:
        translate(translator, events, close=False)
    assert caught.value.retryable
    assert "The server had an error while processing your request." in (caught.value.detail or "")


def test_openai_stream_in_band_openrouter_error(openai_data: Path) -> None:
    translator = _translator()
    with pytest.raises(ModelError) as caught:
        translate(
            translator, (openai_data / "openai_error_openrouter.sse").read_bytes(), close=False
        )
    detail = caught.value.detail or ""
    assert "Provider disconnected unexpectedly" in detail
    assert "upstream status 502" in detail


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            '{"error":{"code":400,"message":"too long","metadata":'
            '{"error_type":"context_length_exceeded"}}}',
            ContextLengthExceeded,
        ),
        ('{"error":{"code":400,"message":"bad tool schema"}}', InvalidRequest),
        ('{"error":"model crashed"}', ModelError),
    ],
)
def test_openai_stream_in_band_error_classes(payload: str, expected: type[RouterError]) -> None:
    with pytest.raises(expected):
        _translator().feed(UpstreamEvent(payload))


def test_openai_stream_partial_output_before_error(openai_data: Path) -> None:
    translator = _translator()
    events = (openai_data / "openai_error_inband.sse").read_bytes().split(b"\n\n")
    first_two = b"\n\n".join(events[:2]) + b"\n\n"
    chunks = translate(translator, first_two, close=False)
    assert [c.choices[0].delta.content for c in chunks] == ["", "Partial"]


def test_openai_stream_without_finish_fails_at_close(openai_data: Path) -> None:
    translator = _translator()
    chunks = translate(translator, (openai_data / "openai_no_finish.sse").read_bytes(), close=False)
    assert len(chunks) == 3
    with pytest.raises(ModelError, match="ended early"):
        translator.close()


def test_openai_stream_done_without_finish_fails() -> None:
    translator = _translator()
    translator.feed(UpstreamEvent(_chunk('[{"index":0,"delta":{"content":"x"}}]')))
    with pytest.raises(ModelError, match="ended early"):
        translator.feed(UpstreamEvent("[DONE]"))


def test_openai_stream_empty_stream_fails() -> None:
    with pytest.raises(ModelError):
        _translator().close()


def test_openai_stream_garbage_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="malformed chunk"):
        _translator().feed(UpstreamEvent("{not json"))
    with pytest.raises(ModelError, match="malformed chunk"):
        _translator().feed(UpstreamEvent('{"choices":"nope"}'))


def test_openai_stream_tool_calls_without_ids_or_indexes() -> None:
    # Ollama-style: no index at all; a name at an already named call starts a new call;
    # argument objects instead of strings.
    raw = _events(
        _chunk('[{"index":0,"delta":{"role":"assistant","content":null}}]'),
        _chunk(
            '[{"index":0,"delta":{"tool_calls":[{"function":'
            '{"name":"get_time","arguments":{"tz":"CET"}}}]}}]'
        ),
        _chunk(
            '[{"index":0,"delta":{"tool_calls":[{"type":"function","function":'
            '{"name":"get_date","arguments":"{}"}}]}}]'
        ),
        _chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]'),
    )
    chunks = translate(_translator(), raw)
    deltas = _tool_deltas(chunks)
    assert [d.index for d in deltas] == [0, 1]
    ids = [d.id for d in deltas]
    assert all(isinstance(i, str) and i.startswith("call_") for i in ids)
    assert ids[0] != ids[1]
    functions = [d.function for d in deltas if isinstance(d.function, FunctionDelta)]
    assert [(f.name, f.arguments) for f in functions] == [
        ("get_time", '{"tz":"CET"}'),
        ("get_date", "{}"),
    ]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_stream_repeated_id_continues_the_same_call() -> None:
    raw = _events(
        _chunk(
            '[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":3,"id":"call_Z",'
            '"type":"function","function":{"name":"f","arguments":"{\\"a\\""}}]}}]'
        ),
        _chunk(
            '[{"index":0,"delta":{"tool_calls":[{"index":3,"id":"call_Z",'
            '"function":{"arguments":":1}"}}]}}]'
        ),
        _chunk('[{"index":0,"delta":{},"finish_reason":"length"}]'),
    )
    chunks = translate(_translator(), raw)
    deltas = _tool_deltas(chunks)
    assert [d.index for d in deltas] == [0, 0]
    functions = [d.function for d in deltas if isinstance(d.function, FunctionDelta)]
    assert [f.arguments for f in functions] == ['{"a"', ":1}"]
    # length is never relabelled, even with tool calls
    assert chunks[-1].choices[0].finish_reason == "length"


def test_openai_stream_n_choices_each_get_role_and_one_finish() -> None:
    raw = _events(
        _chunk('[{"index":0,"delta":{"role":"assistant","content":"a"}}]'),
        _chunk('[{"index":1,"delta":{"role":"assistant","content":"b"}}]'),
        _chunk('[{"index":1,"delta":{"role":"assistant","content":"c"},"finish_reason":"stop"}]'),
        _chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]'),
        _chunk('[{"index":0,"delta":{},"finish_reason":"stop"}]'),
    )
    chunks = translate(_translator(), raw)
    summary = [
        (
            c.choices[0].index,
            c.choices[0].delta.role,
            c.choices[0].delta.content,
            c.choices[0].finish_reason,
        )
        for c in chunks
    ]
    unset = msgspec.UNSET
    assert summary == [
        (0, "assistant", "a", None),
        (1, "assistant", "b", None),
        (1, unset, "c", None),
        (1, unset, unset, "stop"),
        (0, unset, unset, "stop"),
    ]


def test_openai_stream_reasoning_is_forwarded_as_reasoning_content() -> None:
    raw = _events(
        _chunk('[{"index":0,"delta":{"role":"assistant","reasoning":"think"}}]'),
        _chunk('[{"index":0,"delta":{"reasoning_content":"more"}}]'),
        _chunk('[{"index":0,"delta":{"content":"done"},"finish_reason":"stop"}]'),
    )
    chunks = translate(_translator(), raw)
    assert [c.choices[0].delta.reasoning_content for c in chunks[:2]] == ["think", "more"]
    assert [c.choices[0].delta.content for c in chunks[2:]] == ["done", msgspec.UNSET]


def test_openai_stream_upstream_finish_error_is_a_model_error() -> None:
    raw = _events(_chunk('[{"index":0,"delta":{"content":"x"},"finish_reason":"error"}]'))
    with pytest.raises(ModelError):
        translate(_translator(), raw, close=False)


def test_openai_stream_missing_id_uses_a_generated_one_and_the_deployment_model() -> None:
    payload = '{"choices":[{"index":0,"delta":{"role":"assistant","content":"x"}}]}'
    (chunk,) = _translator().feed(UpstreamEvent(payload))
    assert chunk.id.startswith("chatcmpl-")
    assert chunk.model == "gpt-4o"
    assert chunk.created > 0
