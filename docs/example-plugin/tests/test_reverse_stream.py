"""Reverse API NDJSON stream -> canonical chunks, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from reverse_helpers import as_lines, deployment, request, split_ndjson, translate
from router_core.plugin_api import ModelError, UpstreamEvent, UpstreamRateLimited

from viberouter_reverse import ReverseProvider

PROVIDER = ReverseProvider()
REQUEST = request(b'{"model":"reverse","stream":true,"messages":[{"role":"user","content":"x"}]}')


@pytest.mark.parametrize("name", ["stream_text", "stream_limit"])
def test_stream_is_translated(data: Path, name: str) -> None:
    chunks = translate(
        PROVIDER.stream_translator(REQUEST, deployment()), (data / f"{name}.ndjson").read_bytes()
    )
    assert as_lines(chunks) == (data / f"{name}.expected.jsonl").read_text("utf-8")


def test_in_band_error_after_some_words(data: Path) -> None:
    translator = PROVIDER.stream_translator(REQUEST, deployment())
    start, word, failure = split_ndjson((data / "stream_error.ndjson").read_bytes())
    assert translator.feed(start)[0].choices[0].delta.role == "assistant"
    assert translator.feed(word)[0].choices[0].delta.content == "world "
    with pytest.raises(ModelError) as info:
        translator.feed(failure)
    assert "Out of mirrors" in (info.value.detail or "")


def test_in_band_rate_limit_is_retryable() -> None:
    translator = PROVIDER.stream_translator(REQUEST, deployment())
    translator.feed(UpstreamEvent('{"type":"start","id":"r","created":1,"model":"m"}'))
    with pytest.raises(UpstreamRateLimited) as info:
        translator.feed(UpstreamEvent('{"type":"error","code":"rate_limited"}'))
    assert info.value.retryable


def test_truncated_stream_fails_on_close(data: Path) -> None:
    with pytest.raises(ModelError, match="ended early"):
        translate(
            PROVIDER.stream_translator(REQUEST, deployment()),
            (data / "stream_truncated.ndjson").read_bytes(),
        )


@pytest.mark.parametrize(
    "line",
    ['{"type":"word","text":"early"}', "not json", '{"type":"mystery"}'],
)
def test_malformed_or_out_of_order_lines(line: str) -> None:
    translator = PROVIDER.stream_translator(REQUEST, deployment())
    with pytest.raises(ModelError):
        translator.feed(UpstreamEvent(line))


def test_every_translator_is_fresh() -> None:
    first = PROVIDER.stream_translator(REQUEST, deployment())
    first.feed(UpstreamEvent('{"type":"start","id":"a","created":1,"model":"m"}'))
    second = PROVIDER.stream_translator(REQUEST, deployment())
    with pytest.raises(ModelError):
        second.feed(UpstreamEvent('{"type":"word","text":"x"}'))
