"""The plugin's requests sent over loopback to the fake OpenAI upstream, replies parsed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_openai import FAKE_OPENAI, FakeOpenAIConfig, make_fake_openai
from viberouter_openai import OpenAIProvider, OpenAISettings

from router_core.plugin_api import ModelError, UpstreamRateLimited, UpstreamRequest
from router_core.plugin_testing import as_lines, decode_request, deployment, translate

DEP = deployment("gpt-4o", provider="openai")

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
_CHAT = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]'


async def _send(upstream: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            upstream.method, upstream.url, headers=dict(upstream.headers), data=upstream.body
        ) as response,
    ):
        return response.status, dict(response.headers), await response.read()


async def _provider(
    aiohttp_server: ServerFactory, config: FakeOpenAIConfig
) -> tuple[OpenAIProvider, web.Application]:
    app = make_fake_openai(config)
    server = await aiohttp_server(app)
    settings = OpenAISettings(base_url=str(server.make_url("/v1")), api_key="sk-fake")
    return OpenAIProvider(settings), app


async def test_openai_fake_stream_in_one_byte_writes(
    aiohttp_server: ServerFactory, openai_data: Path
) -> None:
    config = FakeOpenAIConfig(sse=(openai_data / "openai_oa1.sse").read_bytes(), split=1)
    provider, app = await _provider(aiohttp_server, config)
    req = decode_request(_CHAT + b',"stream":true}')
    status, headers, body = await _send(provider.build_request(req, DEP))
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    chunks = translate(provider.stream_translator(req, DEP), body)
    expected = (openai_data / "openai_oa1.expected.jsonl").read_text("utf-8")
    assert as_lines(chunks) == expected
    (received,) = app[FAKE_OPENAI].requests
    assert received["stream_options"] == {"include_usage": True}
    assert app[FAKE_OPENAI].headers[0]["Authorization"] == "Bearer sk-fake"


async def test_openai_fake_json_with_pauses(
    aiohttp_server: ServerFactory, openai_data: Path
) -> None:
    raw = (openai_data / "openai_completion_whitespace.json").read_bytes()
    provider, _ = await _provider(aiohttp_server, FakeOpenAIConfig(json=raw, split=16, delay=0.001))
    # stream_options on a non-streamed request would be a 400 from the fake (and OpenAI)
    req = decode_request(_CHAT + b',"stream_options":{"include_usage":true}}')
    status, _, body = await _send(provider.build_request(req, DEP))
    assert status == 200
    completion = provider.parse_response(req, DEP, body)
    assert completion.choices[0].finish_reason == "tool_calls"


async def test_openai_fake_rejects_a_bad_key(aiohttp_server: ServerFactory) -> None:
    provider, app = await _provider(aiohttp_server, FakeOpenAIConfig(api_key="sk-other"))
    status, headers, body = await _send(provider.build_request(decode_request(_CHAT + b"}"), DEP))
    assert status == 401
    error = provider.map_error(status, headers, body)
    assert isinstance(error, ModelError) and not error.retryable
    assert app[FAKE_OPENAI].requests == []


async def test_openai_fake_configured_failure(aiohttp_server: ServerFactory) -> None:
    config = FakeOpenAIConfig(
        status=429,
        headers={"Retry-After": "3"},
        error_body=(
            b'{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}'
        ),
    )
    provider, app = await _provider(aiohttp_server, config)
    status, headers, body = await _send(provider.build_request(decode_request(_CHAT + b"}"), DEP))
    error = provider.map_error(status, headers, body)
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 3.0
    app[FAKE_OPENAI].config.status = 200
    status, _, body = await _send(provider.build_request(decode_request(_CHAT + b"}"), DEP))
    assert status == 200
    completion = provider.parse_response(decode_request(_CHAT + b"}"), DEP, body)
    assert completion.choices[0].message.content == "Hello from the fake upstream."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}},
            "stream_options",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "models": []}, "models"),
    ],
)
async def test_openai_fake_validates_the_request_shape(
    aiohttp_server: ServerFactory, body: dict[str, object], param: str
) -> None:
    server = await aiohttp_server(make_fake_openai(FakeOpenAIConfig(api_key=None)))
    upstream = UpstreamRequest(
        "POST",
        str(server.make_url("/v1/chat/completions")),
        {"Content-Type": "application/json"},
        msgspec.json.encode(body),
        "json",
    )
    status, _, raw = await _send(upstream)
    assert status == 400
    assert json.loads(raw)["error"]["param"] == param
