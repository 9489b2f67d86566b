"""Embeddings: embedContent for one text, batchEmbedContents for a list, dimensions ->
outputDimensionality (truncated vectors re-normalised), token ids refused."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from viberouter_gemini import GeminiProvider, GeminiSettings
from viberouter_gemini.embeddings import MAX_BATCH

from router_core.plugin_api import (
    Deployment,
    EmbeddingRequest,
    InvalidRequest,
    ModelCard,
    ModelError,
)

MODEL = "gemini-embedding-001"
BASE = "https://generativelanguage.googleapis.com/v1beta/models/"


def _deployment() -> Deployment:
    return Deployment(
        id=f"gemini/{MODEL}", provider="gemini", model=MODEL, card=ModelCard(id=MODEL)
    )


def _provider() -> GeminiProvider:
    return GeminiProvider(msgspec.convert({"api_key": "k-1"}, GeminiSettings))


def test_one_string_is_embed_content(gemini_data: Path) -> None:
    req = EmbeddingRequest(model="g", input="What is the meaning of life?", dimensions=3)
    up = _provider().build_embeddings_request(req, _deployment())
    assert (up.method, up.url, up.framing) == ("POST", BASE + MODEL + ":embedContent", "json")
    assert up.headers["x-goog-api-key"] == "k-1"
    assert up.body == (gemini_data / "embed_single.gemini.json").read_bytes()


def test_a_list_is_batch_embed_contents(gemini_data: Path) -> None:
    req = EmbeddingRequest(model="g", input=["a", "b c"])
    up = _provider().build_embeddings_request(req, _deployment())
    assert up.url == BASE + MODEL + ":batchEmbedContents"
    assert up.body == (gemini_data / "embed_batch.gemini.json").read_bytes()


@pytest.mark.parametrize(
    "value",
    [[1, 2, 3], [[1], [2]], "", ["a", ""], ["x"] * (MAX_BATCH + 1)],
)
def test_what_gemini_cannot_embed_is_refused(value: object) -> None:
    req = msgspec.convert({"model": "g", "input": value}, EmbeddingRequest)
    with pytest.raises(InvalidRequest):
        _provider().build_embeddings_request(req, _deployment())


def test_single_answer_renormalised_when_truncated(gemini_data: Path) -> None:
    req = EmbeddingRequest(model="g", input="x", dimensions=3)
    body = (gemini_data / "embed_single.response.json").read_bytes()
    parsed = _provider().parse_embeddings_response(req, _deployment(), body)
    assert [e.embedding for e in parsed.data] == [[0.6, 0.0, 0.8]]
    assert parsed.model == MODEL
    assert parsed.usage.prompt_tokens == 0  # Gemini reports none; the core estimates


def test_batch_answer_numbered_in_request_order(gemini_data: Path) -> None:
    req = EmbeddingRequest(model="g", input=["a", "b"])
    body = (gemini_data / "embed_batch.response.json").read_bytes()
    parsed = _provider().parse_embeddings_response(req, _deployment(), body)
    assert [(e.index, e.embedding) for e in parsed.data] == [(0, [0.1, 0.2]), (1, [0.3, -0.4])]


def test_garbage_is_model_error() -> None:
    req = EmbeddingRequest(model="g", input=["a"])
    with pytest.raises(ModelError):
        _provider().parse_embeddings_response(req, _deployment(), b'{"embedding":{}}')


def test_embedding_card() -> None:
    cards = {c.id: c for c in _provider().models()}
    assert cards[MODEL].capabilities.embeddings
    assert not cards["gemini-2.5-flash"].capabilities.embeddings
