"""Reverse API NDJSON stream -> canonical chunks, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from router_core.plugin_api import ModelError, UpstreamEvent, UpstreamRateLimited
from router_core.plugin_testing import (
    as_lines,
    check_model_rule,
    check_stream,
    decode_request,
    deployment,
    split_events,
    translate,
)

from viberouter_reverse import ReverseProvider

PROVIDER = ReverseProvider()
REQUEST = decode_request(
    b'{"model":"reverse","stream":true,"messages":[{"role":"user","content":"x"}]}'
)

DEPLOYMENT = deployment("reverse-1", provider="rev")


@pytest.mark.parametrize("name", ["stream_text", "stream_limit"])
def test_stream_is_translated(data: Path, name: str) -> None:
    # The core's NDJSON reader and stream loop feed the translator; check_stream runs
    # the body whole, cut at every byte offset and byte by byte, requires the same
    # chunks each time and checks the contract's stream rules (role first, one finish,
    # usage last, one model).
    raw = (data / f"{name}.ndjson").read_bytes()
    chunks = check_stream(lambda: PROVIDER.stream_translator(REQUEST, DEPLOYMENT), raw, "ndjson")
    assert as_lines(chunks) == (data / f"{name}.expected.jsonl").read_text("utf-8")


def test_stream_follows_the_model_rule(data: Path) -> None:
    # chunks name the model as the upstream reports it, not the client's alias
    chunks = translate(
        PROVIDER.stream_translator(REQUEST, DEPLOYMENT),
        (data / "stream_text.ndjson").read_bytes(),
        "ndjson",
    )
    check_model_rule(chunks, DEPLOYMENT, upstream_model="reverse-1")


def test_in_band_error_after_some_words(data: Path) -> None:
    translator = PROVIDER.stream_translator(REQUEST, DEPLOYMENT)
    start, word, failure = split_events((data / "stream_error.ndjson").read_bytes(), "ndjson")
    assert translator.feed(start)[0].choices[0].delta.role == "assistant"
    assert translator.feed(word)[0].choices[0].delta.content == "world "
    with pytest.raises(ModelError) as info:
        translator.feed(failure)
    assert "Out of mirrors" in (info.value.detail or "")


def test_in_band_rate_limit_is_retryable() -> None:
    translator = PROVIDER.stream_translator(REQUEST, DEPLOYMENT)
    translator.feed(UpstreamEvent('{"type":"start","id":"r","created":1,"model":"m"}'))
    with pytest.raises(UpstreamRateLimited) as info:
        translator.feed(UpstreamEvent('{"type":"error","code":"rate_limited"}'))
    assert info.value.retryable


def test_truncated_stream_fails_on_close(data: Path) -> None:
    with pytest.raises(ModelError, match="ended early"):
        translate(
            PROVIDER.stream_translator(REQUEST, DEPLOYMENT),
            (data / "stream_truncated.ndjson").read_bytes(),
            "ndjson",
        )


@pytest.mark.parametrize(
    "line",
    ['{"type":"word","text":"early"}', "not json", '{"type":"mystery"}'],
)
def test_malformed_or_out_of_order_lines(line: str) -> None:
    translator = PROVIDER.stream_translator(REQUEST, DEPLOYMENT)
    with pytest.raises(ModelError):
        translator.feed(UpstreamEvent(line))


def test_every_translator_is_fresh() -> None:
    first = PROVIDER.stream_translator(REQUEST, DEPLOYMENT)
    first.feed(UpstreamEvent('{"type":"start","id":"a","created":1,"model":"m"}'))
    second = PROVIDER.stream_translator(REQUEST, DEPLOYMENT)
    with pytest.raises(ModelError):
        second.feed(UpstreamEvent('{"type":"word","text":"x"}'))
