"""Echo embeddings: deterministic unit vectors, served in-process, in OpenAI's shape."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import msgspec
import pytest
from viberouter_echo import EchoProvider
from viberouter_echo.embeddings import vector

from router_core.plugin_api import Deployment, EmbeddingRequest, InvalidRequest, ModelCard


def _deployment() -> Deployment:
    return Deployment(
        id="echo/echo-1", provider="echo", model="echo-1", card=ModelCard(id="echo-1")
    )


async def _call(provider: EchoProvider, req: EmbeddingRequest) -> tuple[int, bytes]:
    up = provider.build_embeddings_request(req, _deployment())
    local = provider.serve_local(up)
    body = b"".join([chunk async for chunk in local.body])
    return local.status, body


def test_vectors_are_deterministic_unit_and_distinct() -> None:
    a, b = vector("hello", 64), vector("hello", 64)
    assert a == b and len(a) == 64
    assert math.isclose(math.sqrt(sum(v * v for v in a)), 1.0, rel_tol=1e-6)
    assert vector("hellp", 64) != a
    assert len(vector("x", 300)) == 300  # more than one SHA-256 block


def test_round_trip_fixture(echo_data: Path) -> None:
    provider = EchoProvider()
    req = EmbeddingRequest(model="echo", input=["The quick brown fox", "jumps"], dimensions=4)
    status, body = asyncio.run(_call(provider, req))
    assert status == 200
    assert body == (echo_data / "echo_embeddings.expected.json").read_bytes().rstrip(b"\n")
    parsed = provider.parse_embeddings_response(req, _deployment(), body)
    assert [e.index for e in parsed.data] == [0, 1]
    assert (parsed.usage.prompt_tokens, parsed.model) == (5, "echo-1")


def test_token_arrays_and_default_dimensions() -> None:
    provider = EchoProvider()
    req = EmbeddingRequest(model="echo", input=[[1, 2, 3], [4]])
    status, body = asyncio.run(_call(provider, req))
    parsed = provider.parse_embeddings_response(req, _deployment(), body)
    assert status == 200 and [len(e.embedding) for e in parsed.data] == [64, 64]
    assert parsed.usage.prompt_tokens == 4


def test_invalid_input_is_an_openai_400() -> None:
    status, body = asyncio.run(_call(EchoProvider(), EmbeddingRequest(model="e", input=["a", ""])))
    assert status == 400
    assert msgspec.json.decode(body)["error"]["type"] == "invalid_request_error"


def test_too_many_dimensions_refused() -> None:
    with pytest.raises(InvalidRequest):
        EchoProvider().build_embeddings_request(
            EmbeddingRequest(model="e", input="a", dimensions=9000), _deployment()
        )


def test_cards_embed() -> None:
    assert all(c.capabilities.embeddings for c in EchoProvider().models())
