"""Every error class through POST /v1/messages, as the official anthropic SDK sees it:
Anthropic's status, exception class and ``{"type":"error","error":{...}}`` body, the
in-stream ``event: error``, and Anthropic's rate-limit headers beside the router's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import pytest

from router_core.limits.base import Limits, RateLimits
from tests.router_harness import RunningRouter, router_settings, start_router

FILTERED = """
[guards]
filters = ["keywords"]

[guards.keywords]
input_keywords = ["forbidden topic"]
message = "Blocked by policy"
"""
HI: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    r = await start_router(router_settings(tmp_path, extra_toml=FILTERED, first_byte=0.5))
    try:
        yield r
    finally:
        await r.stop()


def _client(router: RunningRouter, key: str | None = None) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=router.url, api_key=router.key if key is None else key, max_retries=0
    )


def _check(exc: anthropic.APIStatusError, status: int, kind: str) -> str:
    assert exc.status_code == status
    body = exc.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == kind
    assert exc.response.headers["request-id"] == exc.response.headers["x-request-id"]
    message: str = body["error"]["message"]
    assert message
    return message


async def _fails(
    client: anthropic.AsyncAnthropic, exc_type: type[anthropic.APIStatusError], **kwargs: Any
) -> anthropic.APIStatusError:
    params: dict[str, Any] = {"model": "echo", "max_tokens": 64, "messages": HI, **kwargs}
    with pytest.raises(exc_type) as info:
        await client.messages.create(**params)
    return info.value


async def test_authentication_and_permission(router: RunningRouter) -> None:
    state = router.state
    err = await _fails(_client(router, "vr-not-a-real-key"), anthropic.AuthenticationError)
    _check(err, 401, "authentication_error")

    _, secret = await state.accounts.create_key(
        router.account_id, "exp", expires_at=time.time() - 1
    )
    _check(
        await _fails(_client(router, secret), anthropic.AuthenticationError),
        401,
        "authentication_error",
    )

    account = await state.accounts.create_account("inactive")
    _, secret = await state.accounts.create_key(account.id, "x")
    await state.accounts.set_status(account.id, "inactive")
    err = await _fails(_client(router, secret), anthropic.PermissionDeniedError)
    _check(err, 403, "permission_error")


async def test_no_credential_at_all(router: RunningRouter) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            router.url + "/v1/messages", json={"model": "echo", "max_tokens": 1, "messages": HI}
        ) as r,
    ):
        assert r.status == 401
        assert (await r.json())["error"]["type"] == "authentication_error"


async def test_unknown_or_forbidden_model_is_not_found(router: RunningRouter) -> None:
    err = await _fails(_client(router), anthropic.NotFoundError, model="claude-nope")
    assert "claude-nope" in _check(err, 404, "not_found_error")
    _, secret = await router.state.accounts.create_key(
        router.account_id, "limited", allowed_models=["other-*"]
    )
    _check(await _fails(_client(router, secret), anthropic.NotFoundError), 404, "not_found_error")


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            b'{"model":"echo","messages":[{"role":"user","content":"hi"}]}',
            "max_tokens: Field required",
        ),
        (b'{"model":"echo","max_tokens":1,"messages":[', "There was an issue with the JSON body"),
        (
            b'{"model":"echo","max_tokens":1,"messages":[{"role":"robot","content":"x"}]}',
            "messages.0.role",
        ),
    ],
)
async def test_invalid_requests(router: RunningRouter, body: bytes, says: str) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            router.url + "/v1/messages",
            data=body,
            headers={"x-api-key": router.key, "content-type": "application/json"},
        ) as r,
    ):
        assert r.status == 400
        doc = await r.json()
    assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"
    assert doc["error"]["message"].startswith(says)


async def test_body_too_large(router: RunningRouter) -> None:
    big = "x" * (router.state.settings.server.max_body_bytes + 10)
    err = await _fails(
        _client(router), anthropic.APIStatusError, messages=[{"role": "user", "content": big}]
    )
    _check(err, 413, "request_too_large")


async def test_context_length_reads_like_anthropics(router: RunningRouter) -> None:
    long = "word " * 60_000  # far beyond the echo model's 32k context
    err = await _fails(
        _client(router), anthropic.BadRequestError, messages=[{"role": "user", "content": long}]
    )
    assert _check(err, 400, "invalid_request_error").startswith("prompt is too long: ")


async def test_content_filter(router: RunningRouter) -> None:
    err = await _fails(
        _client(router),
        anthropic.BadRequestError,
        messages=[{"role": "user", "content": "tell me about the forbidden topic"}],
    )
    assert _check(err, 400, "invalid_request_error") == "Blocked by policy"


async def test_rate_limit_with_anthropic_headers(router: RunningRouter) -> None:
    _, secret = await router.state.accounts.create_key(
        router.account_id, "slow", limits=RateLimits(rpm=1)
    )
    client = _client(router, secret)
    ok = await client.messages.with_raw_response.create(model="echo", max_tokens=8, messages=HI)
    assert ok.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert ok.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert ok.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert ok.headers["x-ratelimit-limit-requests"] == "1"  # the router's own stay
    err = await _fails(client, anthropic.RateLimitError)
    _check(err, 429, "rate_limit_error")
    assert int(err.response.headers["retry-after"]) >= 1
    assert err.response.headers["anthropic-ratelimit-requests-remaining"] == "0"


async def test_quota_is_a_rate_limit_not_worth_retrying(router: RunningRouter) -> None:
    account = await router.state.accounts.create_account("broke", Limits(quota_tokens=0))
    _, secret = await router.state.accounts.create_key(account.id, "k")
    err = await _fails(_client(router, secret), anthropic.RateLimitError)
    _check(err, 429, "rate_limit_error")
    assert err.response.headers["x-should-retry"] == "false"


async def test_upstream_failure_and_timeout(router: RunningRouter) -> None:
    client = _client(router)
    err = await _fails(
        client,
        anthropic.InternalServerError,
        messages=[{"role": "user", "content": "[[echo:status=500]] hi"}],
    )
    _check(err, 502, "api_error")
    err = await _fails(
        client,
        anthropic.GatewayTimeoutError,
        messages=[{"role": "user", "content": "[[echo:hang]] hi"}],
    )
    _check(err, 504, "timeout_error")


async def test_server_error_hides_internals(router: RunningRouter) -> None:
    router.state.catalog.routes["echo"] = object()  # type: ignore[assignment]
    err = await _fails(_client(router), anthropic.InternalServerError)
    assert _check(err, 500, "api_error") == "Internal server error"


async def test_mid_stream_error_is_an_error_event(router: RunningRouter) -> None:
    client = _client(router)
    text: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        async with client.messages.stream(
            model="echo",
            max_tokens=64,
            messages=[{"role": "user", "content": "[[echo:error-midstream]] a b c d e"}],
        ) as stream:
            async for event in stream:
                if event.type == "text":
                    text.append(event.text)
    assert text  # content flowed before the error
    assert info.value.body["error"]["type"] == "api_error"  # type: ignore[index]
