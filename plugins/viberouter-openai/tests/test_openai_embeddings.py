"""Embeddings: the request is the client's body with the upstream model id; the answer
passes through (base64 stays base64), sorted into input order."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from viberouter_openai import OpenAIProvider, OpenAISettings

from router_core.plugin_api import Deployment, EmbeddingRequest, ModelCard, ModelError


def _deployment(model: str) -> Deployment:
    return Deployment(
        id=f"openai/{model}", provider="openai", model=model, card=ModelCard(id=model)
    )


def _provider() -> OpenAIProvider:
    return OpenAIProvider(
        msgspec.convert(
            {"api_key": "sk-test", "base_url": "http://127.0.0.1:9/v1/"}, OpenAISettings
        )
    )


def test_embeddings_request_is_passed_through(openai_data: Path) -> None:
    req = msgspec.json.decode(
        (openai_data / "openai_embeddings_request.json").read_bytes(), type=EmbeddingRequest
    )
    built = _provider().build_embeddings_request(req, _deployment("upstream-embed"))
    assert (built.method, built.url, built.framing) == (
        "POST",
        "http://127.0.0.1:9/v1/embeddings",
        "json",
    )
    assert built.body == (openai_data / "openai_embeddings_request.body.json").read_bytes()
    assert built.headers["Authorization"] == "Bearer sk-test"


def test_embeddings_base64_answer_kept_and_sorted(openai_data: Path) -> None:
    req = EmbeddingRequest(model="e", input=["a", "b"], encoding_format="base64")
    body = (openai_data / "openai_embeddings_base64.json").read_bytes()
    parsed = _provider().parse_embeddings_response(req, _deployment("e"), body)
    assert [(e.index, e.embedding) for e in parsed.data] == [
        (0, "AAAAPwAAgL8="),
        (1, "AACAPwAAAEA="),
    ]
    assert parsed.model == "text-embedding-3-small"
    assert (parsed.usage.prompt_tokens, parsed.usage.total_tokens) == (9, 9)


def test_embeddings_float_answer(openai_data: Path) -> None:
    req = EmbeddingRequest(model="e", input="a")
    body = (openai_data / "openai_embeddings_float.json").read_bytes()
    parsed = _provider().parse_embeddings_response(req, _deployment("e"), body)
    assert parsed.data[0].embedding == [0.0023064255, -0.009327292]


@pytest.mark.parametrize("body", [b"<html>", b'{"object":"list"}', b'{"data":[{"index":"x"}]}'])
def test_embeddings_garbage_is_model_error(body: bytes) -> None:
    req = EmbeddingRequest(model="e", input="a")
    with pytest.raises(ModelError):
        _provider().parse_embeddings_response(req, _deployment("e"), body)


def test_embedding_cards_say_so() -> None:
    cards = {c.id: c for c in _provider().models()}
    small = cards["text-embedding-3-small"]
    assert small.capabilities.embeddings and not small.capabilities.tools
    assert small.pricing.prompt_per_mtok == 0.02
    assert not cards["gpt-4o"].capabilities.embeddings
