"""The plugin's requests against a strict fake Anthropic over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_anthropic import FakeAnthropic, FakeReply, check_messages_request, create_app
from viberouter_anthropic import AnthropicProvider, AnthropicSettings

from router_core.plugin_api import (
    ChatRequest,
    InvalidRequest,
    ModelCard,
    ModelError,
    UpstreamRequest,
    json_encode,
)
from router_core.plugin_testing import deployment, translate

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

DEPLOYMENT = deployment(
    "claude-sonnet-4-20250514",
    provider="anthropic",
    card=ModelCard(id="claude-sonnet-4-20250514", max_output_tokens=4096),
)


async def _serve(
    aiohttp_server: ServerFactory, fake: FakeAnthropic, api_key: str = "test-key"
) -> AnthropicProvider:
    server = await aiohttp_server(create_app(fake))
    return AnthropicProvider(AnthropicSettings(base_url=str(server.make_url("")), api_key=api_key))


async def _send(upstream: UpstreamRequest) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            upstream.method, upstream.url, headers=upstream.headers, data=upstream.body
        ) as response,
    ):
        return response.status, dict(response.headers), await response.read()


def _composed(data: Path, *, stream: bool) -> ChatRequest:
    doc = json.loads((data / "request_composed.openai.json").read_text())
    doc["stream"] = stream
    if not stream:
        del doc["stream_options"]
    return msgspec.convert(doc, ChatRequest)


async def test_non_streaming_round_trip(
    aiohttp_server: ServerFactory, anthropic_data: Path
) -> None:
    fake = FakeAnthropic(replies=[FakeReply.from_file(anthropic_data / "response_tool.json")])
    provider = await _serve(aiohttp_server, fake)
    request = _composed(anthropic_data, stream=False)
    status, _, body = await _send(provider.build_request(request, DEPLOYMENT))
    assert fake.rejected == []
    assert status == 200
    completion = provider.parse_response(request, DEPLOYMENT, body)
    message = completion.choices[0].message
    assert message.content == "Checking now."
    assert isinstance(message.tool_calls, list)
    assert message.tool_calls[0].function.arguments == '{"city":"Oslo"}'
    expected = json.loads((anthropic_data / "request_composed.anthropic.json").read_text())
    del expected["stream"]
    assert fake.received == [expected]
    assert fake.received_headers[0]["x-api-key"] == "test-key"


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
async def test_streaming_round_trip_in_awkward_pieces(
    aiohttp_server: ServerFactory, anthropic_data: Path, chunk_size: int
) -> None:
    reply = FakeReply.from_file(anthropic_data / "an1.sse", chunk_size=chunk_size)
    fake = FakeAnthropic(replies=[reply])
    provider = await _serve(aiohttp_server, fake)
    request = _composed(anthropic_data, stream=True)
    status, headers, body = await _send(provider.build_request(request, DEPLOYMENT))
    assert (status, fake.rejected) == (200, [])
    assert headers["Content-Type"].startswith("text/event-stream")
    chunks = translate(provider.stream_translator(request, DEPLOYMENT), body)
    # Same as the documented translation once our random id/clock are pinned.
    lines = []
    for chunk in chunks:
        chunk.id, chunk.created = "chatcmpl-fx01", 1700000100
        lines.append(json_encode(chunk).decode())
    expected = (anthropic_data / "an1.expected.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == expected


async def test_upstream_overload_status_maps_to_retryable_error(
    aiohttp_server: ServerFactory, anthropic_data: Path
) -> None:
    reply = FakeReply.from_file(anthropic_data / "error_overloaded.json", status=529)
    fake = FakeAnthropic(replies=[reply])
    provider = await _serve(aiohttp_server, fake)
    upstream = provider.build_request(_composed(anthropic_data, stream=True), DEPLOYMENT)
    status, headers, body = await _send(upstream)
    assert status == 529
    error = provider.map_error(status, headers, body)
    assert isinstance(error, ModelError) and error.retryable


async def test_wrong_key_is_the_operators_problem(
    aiohttp_server: ServerFactory, anthropic_data: Path
) -> None:
    fake = FakeAnthropic(replies=[FakeReply.from_file(anthropic_data / "response_tool.json")])
    provider = await _serve(aiohttp_server, fake, api_key="wrong")
    status, headers, body = await _send(
        provider.build_request(_composed(anthropic_data, stream=False), DEPLOYMENT)
    )
    assert status == 401
    error = provider.map_error(status, headers, body)
    assert isinstance(error, ModelError) and not error.retryable


async def test_fake_rejects_a_malformed_request_like_anthropic(
    aiohttp_server: ServerFactory,
) -> None:
    fake = FakeAnthropic(replies=[FakeReply(body=b"{}")])
    provider = await _serve(aiohttp_server, fake)
    bad = {
        "model": "m",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}],
    }
    upstream = UpstreamRequest(
        method="POST",
        url=provider.build_request(
            msgspec.convert(
                {"model": "m", "messages": [{"role": "user", "content": "x"}]}, ChatRequest
            ),
            DEPLOYMENT,
        ).url,
        headers={
            "x-api-key": "test-key",
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        },
        body=json.dumps(bad).encode(),
        framing="json",
    )
    status, headers, body = await _send(upstream)
    assert status == 400
    error = provider.map_error(status, headers, body)
    assert isinstance(error, InvalidRequest)
    assert "non-empty" in error.message
    assert fake.rejected == [["messages.0.content.0.text: text content blocks must be non-empty"]]


OK_BODY: dict[str, Any] = {
    "model": "m",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}
TOOL_TURN: dict[str, Any] = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
}
RESULT_TURN: dict[str, Any] = {
    "role": "user",
    "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"stream_options": {}}, "stream_options: Extra inputs"),
        ({"temperature": 1.5}, "temperature"),
        ({"system": [{"type": "text", "text": ""}]}, "system.0"),
        (
            {"messages": [{"role": "system", "content": "s"}, OK_BODY["messages"][0]]},
            "system is top-level",
        ),
        ({"messages": [{"role": "assistant", "content": "a"}]}, "first message"),
        ({"messages": [OK_BODY["messages"][0], OK_BODY["messages"][0]]}, "alternate"),
        (
            {
                "messages": [
                    OK_BODY["messages"][0],
                    TOOL_TURN,
                    {"role": "user", "content": "no results"},
                ]
            },
            "without tool_result",
        ),
        (
            {
                "messages": [
                    OK_BODY["messages"][0],
                    TOOL_TURN,
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "x"}, *RESULT_TURN["content"]],
                    },
                ]
            },
            "without tool_result",
        ),
        ({"messages": [{"role": "user", "content": ""}]}, "non-empty"),
        ({"tools": [{"name": "f", "input_schema": {"type": "string"}}]}, "input_schema.type"),
        ({"tool_choice": {"type": "auto"}}, "requires tools"),
    ],
)
def test_fake_validator_catches_each_rule(changes: dict[str, Any], problem: str) -> None:
    body = {**OK_BODY, **changes}
    problems = check_messages_request(body)
    assert any(problem in p for p in problems), problems


def test_fake_validator_accepts_a_tool_round() -> None:
    body = {**OK_BODY, "messages": [OK_BODY["messages"][0], TOOL_TURN, RESULT_TURN]}
    assert check_messages_request(body) == []
