"""POST /v1/embeddings through the real router with the official openai SDK: floats
and base64 (the SDK's default) against the openai (pass-through), gemini and echo
deployments; dimensions, token ids, models that do not embed, limits counting input
tokens, billing at the embedding price, and GET /v1/models saying who embeds."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from router_core.limits.base import RateLimits
from tests.responses_world import (
    ServerFactory,
    World,
    client,
    fake_gemini,
    metrics_with,
    running_world,
)

EMBEDDERS = {
    "echo": "echo",
    "openai": "chat/text-embedding-3-small",
    "gemini": "gemini/gemini-embedding-001",
}


@pytest.fixture
async def world(tmp_path: Path, aiohttp_server: ServerFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path, aiohttp_server) as w:
        yield w


@pytest.mark.parametrize("kind", list(EMBEDDERS))
async def test_float_and_base64_carry_the_same_vectors(world: World, kind: str) -> None:
    c = client(world)
    texts = ["The food was delicious", "I liked the waiter"]
    floats = await c.embeddings.create(model=EMBEDDERS[kind], input=texts, encoding_format="float")
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    decoded = await c.embeddings.create(model=EMBEDDERS[kind], input=texts)
    raw = await c.embeddings.create(model=EMBEDDERS[kind], input=texts, encoding_format="base64")
    assert [e.index for e in floats.data] == [0, 1]
    assert all(isinstance(v, float) for v in floats.data[0].embedding)
    assert isinstance(raw.data[0].embedding, str)
    for a, b in zip(floats.data, decoded.data, strict=True):
        assert len(a.embedding) == len(b.embedding) > 0
        pairs = zip(a.embedding, b.embedding, strict=True)
        assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-7) for x, y in pairs)
    assert floats.usage.prompt_tokens > 0
    assert floats.usage.total_tokens == floats.usage.prompt_tokens
    assert floats.data[0].embedding != floats.data[1].embedding


async def test_one_string_and_dimensions(world: World) -> None:
    c = client(world)
    echo = await c.embeddings.create(
        model="echo", input="hello", dimensions=8, encoding_format="float"
    )
    assert len(echo.data) == 1 and len(echo.data[0].embedding) == 8
    gem = await c.embeddings.create(
        model=EMBEDDERS["gemini"], input="hello", dimensions=4, encoding_format="float"
    )
    vector = gem.data[0].embedding
    assert len(vector) == 4 and math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)
    [call] = world.gemini[fake_gemini.CALLS]
    assert call.body["outputDimensionality"] == 4


async def test_token_ids(world: World) -> None:
    c = client(world)
    resp = await c.embeddings.create(
        model="echo", input=[[1, 2, 3], [4, 5]], encoding_format="float"
    )
    assert len(resp.data) == 2 and resp.usage.prompt_tokens == 5
    with pytest.raises(openai.BadRequestError) as info:
        await c.embeddings.create(model=EMBEDDERS["gemini"], input=[1, 2, 3])
    assert "text only" in info.value.response.json()["message"]


async def test_a_model_that_does_not_embed_is_refused(world: World) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await client(world).embeddings.create(model="chat/gpt-4o-mini", input="hi")
    body = info.value.response.json()  # errors as on chat: {"error": code, "message": ...}
    assert body["error"] == "invalid_model"
    assert "does not create embeddings" in body["message"]
    assert world.chat_requests() == []


async def test_models_list_says_which_models_embed(world: World) -> None:
    models = {m.id: m for m in (await client(world).models.list()).data}
    caps = {mid: (m.model_extra or {}).get("capabilities", {}) for mid, m in models.items()}
    assert caps["chat/text-embedding-3-small"]["embeddings"] is True
    assert caps["gemini/gemini-embedding-001"]["embeddings"] is True
    assert caps["chat/gpt-4o-mini"]["embeddings"] is False


async def test_billed_at_the_embedding_price(world: World) -> None:
    resp = await client(world).embeddings.create(
        model=EMBEDDERS["openai"], input=["one two three", "four"], encoding_format="float"
    )
    assert resp.usage.prompt_tokens == 4  # what the upstream reported
    state = world.router.state
    await state.ledger.flush()
    [row] = await state.store.query_usage(key_id=world.router.key_id)
    assert row.model == "chat/text-embedding-3-small"
    assert (row.prompt_tokens, row.completion_tokens) == (4, 0)
    assert math.isclose(row.cost_usd, 4 * 0.02 / 1e6)


async def test_counted_under_the_embeddings_endpoint(world: World) -> None:
    await client(world).embeddings.create(model="echo", input="x", encoding_format="float")
    exposition = await metrics_with(world, 'endpoint="embeddings"')
    assert 'endpoint="embeddings"' in exposition
    assert 'model="echo",provider="echo",status="200"' in exposition


async def test_limits_count_input_tokens(world: World) -> None:
    state = world.router.state
    _, secret = await state.accounts.create_key(
        world.router.account_id, "tiny", limits=RateLimits(tpm=20)
    )
    c = client(world, secret)
    await c.embeddings.create(model="echo", input="a few words here", encoding_format="float")
    with pytest.raises(openai.RateLimitError):
        await c.embeddings.create(model="echo", input=["word " * 200], encoding_format="float")
