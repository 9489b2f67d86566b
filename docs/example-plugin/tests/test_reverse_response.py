"""Reverse API answer -> ChatCompletion, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from router_core.plugin_api import ModelError, json_encode
from router_core.plugin_testing import decode_request, deployment

from viberouter_reverse import ReverseProvider

PROVIDER = ReverseProvider()
REQUEST = decode_request(
    b'{"model":"reverse","messages":[{"role":"user","content":"hello big world"}]}'
)

DEPLOYMENT = deployment("reverse-1", provider="rev")


def test_answer_is_translated(data: Path) -> None:
    completion = PROVIDER.parse_response(REQUEST, DEPLOYMENT, (data / "answer.json").read_bytes())
    assert json_encode(completion) + b"\n" == (data / "answer.expected.json").read_bytes()


@pytest.mark.parametrize("body", [b"", b"<html>", b'{"id":"x"}', b'{"stop":"sideways"}'])
def test_garbage_is_a_model_error(body: bytes) -> None:
    with pytest.raises(ModelError):
        PROVIDER.parse_response(REQUEST, DEPLOYMENT, body)


def test_model_cards_follow_settings() -> None:
    (card,) = PROVIDER.models()
    assert card.id == "reverse-1"
    assert card.context_length == 4096
    assert not card.capabilities.tools and card.capabilities.streaming
