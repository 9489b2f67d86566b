"""What SDKs show and do with the router's errors: `server.error_format = "openai"`
through the official openai SDK (message in str(e), e.code), in-band stream errors,
x-should-retry obeyed by the SDK's own retries, and a request that can never fit the
key's tokens-per-minute limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import openai
import pytest

from router_core.limits.base import RateLimits
from router_core.settings import Settings
from tests.fault_upstream import FaultUpstream, Step, provider_toml, start_routed
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router


def openai_format(s: Settings) -> Settings:
    return msgspec.structs.replace(
        s, server=msgspec.structs.replace(s.server, error_format="openai")
    )


@pytest.fixture
async def nested(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    router = await start_router(openai_format(router_settings(tmp_path, retries=0)))
    yield router
    await router.stop()


HI = [{"role": "user", "content": "hi"}]


async def test_sdk_shows_the_message_and_code(nested: RunningRouter) -> None:
    client = openai.AsyncOpenAI(base_url=nested.base_url, api_key="vr-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        await client.chat.completions.create(model="echo", messages=HI)  # type: ignore[arg-type]
    assert auth.value.code == "invalid_api_key"
    # The SDK shows the router's message (the seed's body gave just "Error code: 401"):
    # openai 3.3 prints the whole error body after the status, later SDKs the message.
    shown = str(auth.value)
    assert shown.startswith("Error code: 401 - ") and "Invalid API key" in shown
    assert auth.value.body == {
        "message": "Invalid API key",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }

    client = openai.AsyncOpenAI(base_url=nested.base_url, api_key=nested.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as bad:
        await client.chat.completions.create(model="no-such-model", messages=HI)  # type: ignore[arg-type]
    assert bad.value.code == "invalid_model"
    assert "no-such-model" in str(bad.value)
    # An unknown path under /v1 answers in the same shape.
    async with aiohttp.ClientSession() as session, session.get(nested.base_url + "/nope") as r:
        assert r.status == 404
        assert (await r.json())["error"]["code"] == "invalid_request"
    await client.close()


async def test_in_band_stream_error_is_raised_with_its_message(nested: RunningRouter) -> None:
    client = openai.AsyncOpenAI(base_url=nested.base_url, api_key=nested.key, max_retries=0)
    stream = await client.chat.completions.create(
        model="echo",
        stream=True,
        messages=[{"role": "user", "content": "one two [[echo:error-midstream]]"}],
    )
    with pytest.raises(openai.APIError) as err:
        async for _ in stream:
            pass
    # The SDK reads the nested event (the seed's flat one gave it no message) and raises
    # with the router's message and code.
    assert err.value.message == "The model provider failed to answer"
    assert err.value.body == {
        "message": "The model provider failed to answer",
        "type": "server_error",
        "param": None,
        "code": "model_error",
    }
    await client.close()


async def test_default_format_is_the_seed_shape(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        reply = await post_chat(router, {"model": "echo", "messages": HI}, key="vr-wrong")
        assert reply.status == 401
        assert list(reply.json()) == ["error", "message"]
        assert reply.json()["error"] == "invalid_api_key"
        assert reply.headers["x-should-retry"] == "false"
    finally:
        await router.stop()


async def test_a_final_model_error_is_not_retried_by_the_sdk(tmp_path: Path) -> None:
    async with FaultUpstream() as up:
        up.script(*[Step("status", status=500)] * 10)
        s = router_settings(
            tmp_path,
            retries=1,
            extra_toml=provider_toml("a", up) + '[routes.m]\ndeployments = ["a/m1"]\n',
        )
        router = await start_routed(openai_format(s))
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=2)
        try:
            with pytest.raises(openai.APIStatusError) as err:
                await client.chat.completions.create(model="m", messages=HI)  # type: ignore[arg-type]
            assert err.value.status_code == 502 and err.value.code == "model_error"
            assert err.value.response.headers["x-should-retry"] == "false"
            # The router's own two attempts, and no SDK retry on top (it would be 6).
            assert up.attempts == 2
        finally:
            await client.close()
            await router.stop()


async def test_rate_limit_says_retry_and_when(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path), limits=RateLimits(rpm=1))
    try:
        assert (await post_chat(router, {"model": "echo", "messages": HI})).status == 200
        refused = await post_chat(router, {"model": "echo", "messages": HI})
        assert refused.status == 429
        assert refused.headers["x-should-retry"] == "true"
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        await router.stop()


async def test_tpm_below_the_default_output_serves_requests_without_max_tokens(
    tmp_path: Path,
) -> None:
    # The echo card's default output budget is far above 1,000 tokens: the reservation
    # is capped at the limit instead of refusing every request that omits max_tokens.
    router = await start_router(router_settings(tmp_path), limits=RateLimits(tpm=1000))
    try:
        ok = await post_chat(router, {"model": "echo", "messages": HI})
        assert ok.status == 200, ok.body
        too_big = await post_chat(router, {"model": "echo", "messages": HI, "max_tokens": 5000})
        assert too_big.status == 429
        body = too_big.json()
        assert body["error"] == "rate_limit_exceeded"
        assert "limit 1000" in body["message"] and "requested 50" in body["message"]
        assert too_big.headers["x-should-retry"] == "false"
        assert "Retry-After" not in too_big.headers
        huge = await post_chat(
            router, {"model": "echo", "messages": [{"role": "user", "content": "word " * 3000}]}
        )
        assert huge.status == 429 and "Request too large" in huge.json()["message"]
    finally:
        await router.stop()


async def test_a_key_chooses_its_own_error_format(tmp_path: Path) -> None:
    # Server default (the seed's shape); one key asks for OpenAI's, in the store.
    router = await start_router(router_settings(tmp_path), error_format="openai")
    try:
        other, other_secret = await router.state.accounts.create_key(router.account_id, "plain")
        assert other.error_format is None
        body = {"model": "no-such-model", "messages": HI}
        mine = await post_chat(router, body)
        assert mine.status == 400 and mine.json()["error"]["code"] == "invalid_model"
        plain = await post_chat(router, body, key=other_secret)
        assert plain.status == 400 and plain.json()["error"] == "invalid_model"
        # The store keeps it (both backends share the contract tests' mapping).
        again = await router.state.store.get_key(router.key_id)
        assert again is not None and again.error_format == "openai"
        # Before a key is known (a bad one) the server's format applies.
        bad = await post_chat(router, body, key="vr-nope")
        assert bad.json()["error"] == "invalid_api_key"
    finally:
        await router.stop()
