"""The requests the plugin builds, sent over loopback to the fake Gemini upstream."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from fake_gemini import CALLS, DEFAULT_API_KEY, VIOLATIONS, FakeReply, check_body, make_app
from gemini_helpers import chat, deployment, load_request, provider, read_jsonl, to_json
from viberouter_gemini import GeminiProvider

from router_core.plugin_api import (
    InvalidRequest,
    ModelError,
    UpstreamRateLimited,
    UpstreamRequest,
)
from router_core.plugin_testing import run_stream

ServerFactory = Callable[[Any], Awaitable[TestServer]]


async def start(aiohttp_server: ServerFactory, *replies: FakeReply) -> tuple[TestServer, str]:
    server = await aiohttp_server(make_app(list(replies)))
    return server, str(server.make_url("/v1beta"))


async def send(up: UpstreamRequest) -> tuple[int, dict[str, str], list[bytes]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(up.method, up.url, headers=dict(up.headers), data=up.body) as resp,
    ):
        pieces = [piece async for piece in resp.content.iter_any()]
        return resp.status, dict(resp.headers), pieces


async def test_stream_in_awkward_pieces_translates_like_the_fixture(
    aiohttp_server: ServerFactory, gemini_data: Path
) -> None:
    reply = FakeReply.from_file(gemini_data / "text_utf8.sse", piece_size=3)
    server, base = await start(aiohttp_server, reply)
    plugin = provider(base_url=base, api_key=DEFAULT_API_KEY)
    request = load_request(gemini_data / "request_composed.json")
    up = plugin.build_request(request, deployment("gemini-2.5-pro"))
    status, headers, pieces = await send(up)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    assert len(pieces) > 10  # really delivered in slices
    translator = plugin.stream_translator(request, deployment("gemini-2.5-pro"))
    chunks = run_stream(translator, pieces)  # the core's framing and loop, as delivered
    assert [to_json(c) for c in chunks] == read_jsonl(gemini_data / "text_utf8.expected.jsonl")
    app = server.app
    assert app[VIOLATIONS] == []
    [call] = app[CALLS]
    assert (call.model, call.stream) == ("gemini-2.5-pro", True)
    assert call.body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"


async def test_json_round_trip(aiohttp_server: ServerFactory, gemini_data: Path) -> None:
    server, base = await start(
        aiohttp_server, FakeReply.from_file(gemini_data / "response_tools.json")
    )
    plugin = provider(base_url=base, api_key=DEFAULT_API_KEY)
    request = load_request(gemini_data / "request_full.json")
    up = plugin.build_request(request, deployment("gemini-3-pro-preview"))
    status, _, pieces = await send(up)
    assert status == 200
    completion = plugin.parse_response(request, deployment(), b"".join(pieces))
    assert completion.choices[0].finish_reason == "tool_calls"
    assert server.app[VIOLATIONS] == []
    assert server.app[CALLS][0].stream is False


async def test_upstream_error_status_maps(aiohttp_server: ServerFactory, gemini_data: Path) -> None:
    reply = FakeReply.from_file(
        gemini_data / "errors" / "rate_limited.json", status=429, piece_size=5
    )
    _, base = await start(aiohttp_server, reply)
    plugin = provider(base_url=base, api_key=DEFAULT_API_KEY)
    status, headers, pieces = await send(plugin.build_request(chat(), deployment()))
    err = plugin.map_error(status, headers, b"".join(pieces))
    assert isinstance(err, UpstreamRateLimited) and err.retry_after == 37.0


async def test_wrong_key_is_refused_like_gemini(
    aiohttp_server: ServerFactory, gemini_data: Path
) -> None:
    server, base = await start(
        aiohttp_server, FakeReply.from_file(gemini_data / "response_text.json")
    )
    plugin = provider(base_url=base, api_key="wrong")
    status, headers, pieces = await send(plugin.build_request(chat(), deployment()))
    err = plugin.map_error(status, headers, b"".join(pieces))
    assert status == 400 and isinstance(err, ModelError) and err.retryable is False
    assert server.app[CALLS] == []


async def test_fake_rejects_a_body_gemini_would_reject(
    aiohttp_server: ServerFactory, gemini_data: Path
) -> None:
    server, base = await start(
        aiohttp_server, FakeReply.from_file(gemini_data / "response_text.json")
    )
    up = UpstreamRequest(
        method="POST",
        url=f"{base}/models/gemini-2.5-flash:generateContent",
        headers={"x-goog-api-key": DEFAULT_API_KEY},
        body=b'{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}',
        framing="json",
    )
    status, headers, pieces = await send(up)
    err = GeminiProvider().map_error(status, headers, b"".join(pieces))
    assert isinstance(err, InvalidRequest) and "valid role" in err.message
    assert len(server.app[VIOLATIONS]) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generation_config": {}},
            "generation_config",
        ),
        ({"contents": [{"role": "user", "parts": [{"inline_data": {}}]}]}, "inline_data"),
        ({"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
        (
            {"contents": [{"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]},
            "functionResponse",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "a", "functionCall": {"name": "f"}}]}
                ]
            },
            "exactly one",
        ),
        ({"contents": []}, "contents is not specified"),
    ],
)
def test_fake_body_checks(body: Any, problem: str) -> None:
    found = check_body(body)
    assert found is not None and problem in found


def test_fake_body_check_allows_free_form_payloads() -> None:
    body = {
        "contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"snake_case": 1}}}]}
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "f", "parametersJsonSchema": {"properties": {"a_b": {}}}}
                ]
            }
        ],
    }
    assert check_body(body) is None
