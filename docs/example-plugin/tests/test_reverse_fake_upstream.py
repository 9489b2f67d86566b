"""The plugin's requests sent over real HTTP on loopback to the fake Reverse API, and
its answers parsed: the same path the core takes, without the core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_reverse import FAKE_REVERSE, FakeReverseConfig, make_fake_reverse
from router_core.plugin_api import ModelError, UpstreamRateLimited, UpstreamRequest, Usage
from router_core.plugin_testing import decode_request, deployment, translate

from viberouter_reverse import ReverseProvider, ReverseSettings

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
CHAT = b'{"model":"reverse","messages":[{"role":"user","content":"one two three four"}]'

DEPLOYMENT = deployment("reverse-1", provider="rev")


async def _send(upstream: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            upstream.method, upstream.url, headers=dict(upstream.headers), data=upstream.body
        ) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def _provider(
    aiohttp_server: ServerFactory, config: FakeReverseConfig, api_key: str = "rk-test"
) -> tuple[ReverseProvider, web.Application]:
    app = make_fake_reverse(config)
    server = await aiohttp_server(app)
    settings = ReverseSettings(base_url=str(server.make_url("")), api_key=api_key)
    return ReverseProvider(settings), app


async def test_json_answer(aiohttp_server: ServerFactory) -> None:
    provider, app = await _provider(aiohttp_server, FakeReverseConfig())
    req = decode_request(CHAT + b',"max_tokens":3}')
    status, _, body = await _send(provider.build_request(req, DEPLOYMENT))
    assert status == 200
    completion = provider.parse_response(req, DEPLOYMENT, body)
    assert completion.choices[0].message.content == "four three two"
    assert completion.choices[0].finish_reason == "length"
    assert app[FAKE_REVERSE].requests[0]["max_words"] == 3


async def test_stream_in_three_byte_writes(aiohttp_server: ServerFactory) -> None:
    provider, _ = await _provider(aiohttp_server, FakeReverseConfig(split=3))
    req = decode_request(CHAT + b',"stream":true}')
    status, headers, body = await _send(provider.build_request(req, DEPLOYMENT))
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-ndjson")
    chunks = translate(provider.stream_translator(req, DEPLOYMENT), body, "ndjson")
    text = "".join(
        c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].delta.content
    )
    assert text == "four three two one"
    usage = chunks[-1].usage
    assert isinstance(usage, Usage) and usage.completion_tokens == 4


async def test_in_band_failure(aiohttp_server: ServerFactory) -> None:
    provider, _ = await _provider(aiohttp_server, FakeReverseConfig(fail_after_words=2))
    req = decode_request(CHAT + b',"stream":true}')
    _, _, body = await _send(provider.build_request(req, DEPLOYMENT))
    with pytest.raises(ModelError, match="failed to answer"):
        translate(provider.stream_translator(req, DEPLOYMENT), body, "ndjson")


async def test_wrong_key_is_the_operators_problem(aiohttp_server: ServerFactory) -> None:
    provider, app = await _provider(aiohttp_server, FakeReverseConfig(), api_key="rk-wrong")
    status, headers, body = await _send(
        provider.build_request(decode_request(CHAT + b"}"), DEPLOYMENT)
    )
    assert status == 401
    error = provider.map_error(status, headers, body)
    assert isinstance(error, ModelError) and not error.retryable
    assert app[FAKE_REVERSE].requests == []


async def test_rate_limited_with_retry_after(aiohttp_server: ServerFactory) -> None:
    config = FakeReverseConfig(status=429, error_code="rate_limited", retry_after="3")
    provider, _ = await _provider(aiohttp_server, config)
    status, headers, body = await _send(
        provider.build_request(decode_request(CHAT + b"}"), DEPLOYMENT)
    )
    error = provider.map_error(status, headers, body)
    assert isinstance(error, UpstreamRateLimited) and error.retry_after == 3.0
