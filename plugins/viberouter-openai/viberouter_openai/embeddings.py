"""Embeddings for OpenAI-compatible servers: ``POST {base_url}/embeddings``, passed
through (only the model id changes; ``encoding_format`` is forwarded, so base64
vectors travel as base64)."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    ModelError,
    UpstreamRequest,
    json_encode,
)
from viberouter_openai.request import request_headers
from viberouter_openai.settings import OpenAISettings

_decode = msgspec.json.Decoder(EmbeddingResponse).decode


def build_embeddings_request(
    settings: OpenAISettings, request: EmbeddingRequest, deployment: Deployment
) -> UpstreamRequest:
    """The upstream request: the client's body with the upstream model id."""
    body = msgspec.structs.replace(request, model=deployment.model, models=None)
    return UpstreamRequest(
        method="POST",
        url=settings.base_url.rstrip("/") + "/embeddings",
        headers=request_headers(settings, stream=False),
        body=json_encode(body),
        framing="json",
    )


def parse_embeddings_response(body: bytes, model: str) -> EmbeddingResponse:
    """The upstream's list, in input order; ``ModelError`` if it is not one."""
    try:
        doc = _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed embeddings response", detail=str(exc)
        ) from exc
    doc.data.sort(key=lambda e: e.index)
    if not doc.model:
        doc.model = model
    return doc


__all__ = ["build_embeddings_request", "parse_embeddings_response"]
