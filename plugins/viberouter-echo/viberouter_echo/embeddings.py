"""Deterministic offline embeddings: each input's vector comes from SHA-256 of its
text (or token ids), scaled to unit length, so equal inputs get equal vectors on
every machine and different inputs almost surely differ. Served in-process at
``local://echo/embeddings`` in OpenAI's shape, always as floats (the core encodes
base64 for clients that ask for it)."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import AsyncIterator

import msgspec

from router_core.plugin_api import (
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    InvalidRequest,
    LocalResponse,
    ModelError,
    UpstreamRequest,
    json_encode,
)
from viberouter_echo.wire import error_body

EMBEDDINGS_URL = "local://echo/embeddings"
_JSON = {"content-type": "application/json"}
_request = msgspec.json.Decoder(EmbeddingRequest).decode
_response = msgspec.json.Decoder(EmbeddingResponse).decode
_SCALE = 2.0 / 0xFFFFFFFF


def vector(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text``: ``dimensions`` floats from a SHA-256 stream."""
    raw = b""
    block = 0
    while len(raw) < dimensions * 4:
        raw += hashlib.sha256(f"{block}:{text}".encode()).digest()
        block += 1
    words = struct.unpack(f"<{dimensions}I", raw[: dimensions * 4])
    values = [w * _SCALE - 1.0 for w in words]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    # Rounded to float32 so the float and base64 forms carry the same numbers.
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in values]


def tokens_of(text: str) -> int:
    """Echo's token count of a text: its words (a token array counts its ids)."""
    return max(1, len(text.split()))


def answer(request: EmbeddingRequest, default_dimensions: int) -> EmbeddingResponse:
    """The embeddings for a request (raises ValueError for invalid input)."""
    inputs = request.inputs()
    dims = request.dimensions or default_dimensions
    data = []
    tokens = 0
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            text, tokens = item, tokens + tokens_of(item)
        else:
            text, tokens = " ".join(map(str, item)), tokens + len(item)
        data.append(Embedding(index=index, embedding=vector(text, dims)))
    return EmbeddingResponse(
        data=data,
        model=request.model,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )


def serve_embeddings(request: UpstreamRequest, default_dimensions: int) -> LocalResponse:
    """Answer one in-process embeddings call (400 in OpenAI's shape for bad input)."""
    try:
        answered = answer(_request(request.body), default_dimensions)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        return LocalResponse(400, _JSON, _once(error_body(400, f"Invalid request: {exc}")))
    return LocalResponse(200, _JSON, _once(json_encode(answered)))


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


def build_request(request: EmbeddingRequest, model: str) -> UpstreamRequest:
    """The canonical request addressed to the in-process upstream."""
    if request.dimensions is not None and request.dimensions > 8192:
        raise InvalidRequest("dimensions: echo makes at most 8192")
    body = msgspec.structs.replace(request, model=model, models=None)
    return UpstreamRequest("POST", EMBEDDINGS_URL, _JSON, json_encode(body), "json")


def parse(body: bytes) -> EmbeddingResponse:
    """The in-process upstream already answers in the canonical shape."""
    try:
        return _response(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError("The echo upstream sent malformed embeddings", detail=str(exc)) from exc


__all__ = ["EMBEDDINGS_URL", "answer", "build_request", "parse", "serve_embeddings", "vector"]
