"""Embeddings on Gemini: one text -> ``models/{m}:embedContent``, several ->
``models/{m}:batchEmbedContents`` (answers in request order), ``dimensions`` ->
``outputDimensionality``.

Gemini normalises only full-size vectors; a truncated one (``dimensions`` set) is
re-normalised here to unit length, as OpenAI's shortened vectors are. Gemini embeds
text only (token ids are refused) and reports no token usage in these answers, so
usage stays zero and the core estimates it.
"""

from __future__ import annotations

import math
from urllib.parse import quote

import msgspec
from msgspec import UNSET, UnsetType

from router_core.plugin_api import (
    Deployment,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    InvalidRequest,
    ModelError,
    UpstreamRequest,
)

from .settings import GeminiSettings

#: Texts per batchEmbedContents call that Gemini accepts.
MAX_BATCH = 100


class _Wire(msgspec.Struct, rename="camel", omit_defaults=True):
    pass


class _Part(_Wire):
    text: str


class _Content(_Wire):
    parts: list[_Part]


class EmbedContentRequest(_Wire):
    content: _Content
    model: str | UnsetType = UNSET
    output_dimensionality: int | UnsetType = UNSET


class BatchEmbedRequest(_Wire):
    requests: list[EmbedContentRequest]


class _Values(_Wire):
    values: list[float]


class EmbedContentResponse(_Wire):
    embedding: _Values


class BatchEmbedResponse(_Wire):
    embeddings: list[_Values]


_encode = msgspec.json.Encoder().encode
_single = msgspec.json.Decoder(EmbedContentResponse).decode
_batch = msgspec.json.Decoder(BatchEmbedResponse).decode


def _texts(request: EmbeddingRequest) -> list[str]:
    try:
        inputs = request.inputs()
    except ValueError as exc:
        raise InvalidRequest(f"Invalid input: {exc}") from exc
    texts = [x for x in inputs if isinstance(x, str)]
    if len(texts) != len(inputs):
        raise InvalidRequest("Gemini embeds text only; send strings, not token ids")
    if len(texts) > MAX_BATCH:
        raise InvalidRequest(f"Gemini embeds at most {MAX_BATCH} inputs per request")
    return texts


def build_embeddings_request(
    settings: GeminiSettings, request: EmbeddingRequest, deployment: Deployment
) -> UpstreamRequest:
    """``embedContent`` for one input (a string), ``batchEmbedContents`` otherwise."""
    texts = _texts(request)
    dims: int | UnsetType = request.dimensions if request.dimensions is not None else UNSET
    model = quote(deployment.model, safe="-._")
    base = settings.base_url.rstrip("/")
    body: msgspec.Struct
    if isinstance(request.input, str):
        url = f"{base}/models/{model}:embedContent"
        body = EmbedContentRequest(
            content=_Content(parts=[_Part(text=texts[0])]), output_dimensionality=dims
        )
    else:
        url = f"{base}/models/{model}:batchEmbedContents"
        body = BatchEmbedRequest(
            requests=[
                EmbedContentRequest(
                    model=f"models/{deployment.model}",
                    content=_Content(parts=[_Part(text=t)]),
                    output_dimensionality=dims,
                )
                for t in texts
            ]
        )
    headers = {**settings.headers, "content-type": "application/json"}
    if settings.api_key:
        headers["x-goog-api-key"] = settings.api_key
    return UpstreamRequest("POST", url, headers, _encode(body), "json")


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values] if norm > 0 else values


def parse_embeddings_response(
    request: EmbeddingRequest, body: bytes, model: str
) -> EmbeddingResponse:
    """Vectors numbered in request order (Gemini sends no index)."""
    try:
        if isinstance(request.input, str):
            vectors = [_single(body).embedding.values]
        else:
            vectors = [e.values for e in _batch(body).embeddings]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed embeddings response", detail=str(exc)
        ) from exc
    if request.dimensions is not None:
        vectors = [_unit(v) for v in vectors]
    return EmbeddingResponse(
        data=[Embedding(index=i, embedding=v) for i, v in enumerate(vectors)], model=model
    )


__all__ = ["MAX_BATCH", "build_embeddings_request", "parse_embeddings_response"]
