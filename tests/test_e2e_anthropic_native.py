"""POST /v1/messages with the official anthropic SDK, routed to an Anthropic-speaking
(fake) upstream: native pass-through. The upstream receives the client's body as sent
(only the model replaced), the client receives the upstream's bytes as sent, and the
usage read from them reaches limits, the ledger and metrics."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.anthropic_upstreams import CLAUDE_CODE_MODEL, DATA, PLUGIN_DATA, FakeReply, upstreams

UPSTREAM_MODEL = "claude-sonnet-4-5-20250929"


def _client(url: str, key: str, **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0, **kwargs)


def _as_sent(request_body: bytes) -> dict[str, Any]:
    """What the upstream must receive for this client body: the same, model replaced."""
    doc: dict[str, Any] = json.loads(request_body)
    doc["model"] = UPSTREAM_MODEL
    return doc


SYSTEM = [
    {"type": "text", "text": "You are a coding agent."},
    {"type": "text", "text": "Project rules ...", "cache_control": {"type": "ephemeral"}},
]


async def test_create_is_passed_through_both_ways(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "response_tool.json")
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        client = _client(up.url, up.router.key)
        raw = await client.messages.with_raw_response.create(
            model="claude",
            max_tokens=1024,
            system=SYSTEM,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            metadata={"user_id": "u-1"},
            extra_body={"top_k": 5},
        )
        message = await raw.parse()
        assert raw.http_response.content == reply.body  # the upstream's bytes, as sent
        assert up.anthropic.received == [_as_sent(raw.http_request.content)]
        assert up.anthropic.rejected == []
        assert message.stop_reason == "tool_use"
        assert raw.headers["x-viberouter-deployment"] == "anthropic/claude-sonnet-4-5-20250929"
        assert raw.headers["request-id"] == raw.headers["x-request-id"]


# The SDK warns about the dated model id Claude Code sends; that id is the point here.
@pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")
async def test_stream_relays_the_upstreams_events_byte_for_byte(tmp_path: Path) -> None:
    upstream = (DATA / "native_thinking_tool.sse").read_bytes()
    async with upstreams(tmp_path, anthropic=[FakeReply(upstream, chunk_size=13)]) as up:
        client = _client(up.url, up.router.key)
        async with client.messages.with_streaming_response.create(
            model=CLAUDE_CODE_MODEL,
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "Read a.py"}],
            stream=True,
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            received = b"".join([chunk async for chunk in response.iter_bytes()])
        assert received == upstream
        sent = json.loads(up.anthropic.received_raw[0])
        assert sent["model"] == UPSTREAM_MODEL and sent["stream"] is True


async def test_thinking_signatures_survive_a_tool_loop(tmp_path: Path) -> None:
    turn1 = FakeReply.from_file(DATA / "native_thinking_tool.sse")
    turn2 = FakeReply.from_file(DATA / "native_cached.json")
    async with upstreams(tmp_path, anthropic=[turn1, turn2]) as up:
        client = _client(up.url, up.router.key)
        thinking: Any = {"type": "enabled", "budget_tokens": 1024}
        question: Any = {"role": "user", "content": "What does a.py print?"}
        async with client.messages.stream(
            model="claude", max_tokens=2048, thinking=thinking, messages=[question]
        ) as stream:
            first = await stream.get_final_message()
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        assert first.content[0].signature == "EqQBCkYIBxgCKkDsig+/fx05=="  # type: ignore[union-attr]
        tool_use = first.content[1]
        assert tool_use.input == {"file_path": "/src/a.py"}  # type: ignore[union-attr]
        raw = await client.messages.with_raw_response.create(
            model="claude",
            max_tokens=2048,
            thinking=thinking,
            messages=[
                question,
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": tool_use.id, "content": "print(1)"}  # type: ignore[union-attr]
                    ],
                },
            ],
        )
        final = await raw.parse()
        second = up.anthropic.received[1]
        assert second == _as_sent(raw.http_request.content)
        replayed = second["messages"][1]["content"][0]
        assert replayed["type"] == "thinking"
        assert replayed["signature"] == "EqQBCkYIBxgCKkDsig+/fx05=="
        assert final.content[0].text == "The file prints 1."  # type: ignore[union-attr]


async def test_cache_usage_is_reported_and_billed_in_full(tmp_path: Path) -> None:
    reply = FakeReply.from_file(DATA / "native_cached.json")
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        client = _client(up.url, up.router.key)
        message = await client.messages.create(
            model="claude",
            max_tokens=256,
            system=SYSTEM,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "hi"}],
        )
        usage = message.usage
        assert (usage.input_tokens, usage.cache_read_input_tokens) == (25, 1800)
        assert usage.cache_creation_input_tokens == 1200
        # The router counts every prompt token Anthropic read: 25 + 1800 + 1200.
        tokens = up.router.state.metrics.registry.get_sample_value(
            "viberouter_tokens_total", {"model": "claude", "type": "prompt"}
        )
        assert tokens == 3025


async def test_count_tokens_asks_the_upstream(tmp_path: Path) -> None:
    async with upstreams(tmp_path) as up:
        up.anthropic.count_tokens = 1234
        client = _client(up.url, up.router.key)
        counted = await client.messages.count_tokens(
            model="claude", messages=[{"role": "user", "content": "hi"}]
        )
        assert counted.input_tokens == 1234
        assert up.anthropic.received_paths == ["/v1/messages/count_tokens"]
        assert up.anthropic.received[0]["model"] == UPSTREAM_MODEL


@pytest.mark.parametrize("form", ["x-api-key", "bearer"])
async def test_both_auth_forms(tmp_path: Path, form: str) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "response_tool.json")
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        if form == "x-api-key":
            client = _client(up.url, up.router.key)
        else:
            client = anthropic.AsyncAnthropic(
                base_url=up.url, auth_token=up.router.key, max_retries=0
            )
        message = await client.messages.create(
            model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.id == "msg_fx01"
        # The router's key never travels upstream; the provider's own key does.
        headers = up.anthropic.received_headers[0]
        assert headers["x-api-key"] == "test-key"
        assert up.router.key not in json.dumps(headers)


async def test_betas_and_version_are_forwarded(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "response_tool.json")
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        client = _client(up.url, up.router.key)
        raw = await client.beta.messages.with_raw_response.create(
            model="claude",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            betas=["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"],
            extra_query={"beta": "true"},  # what Claude Code's SDK adds: routed on the path
        )
        assert raw.http_request.url.params["beta"] == "true"
        headers = up.anthropic.received_headers[0]
        assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14,context-1m-2025-08-07"
        # The client's version wins over the provider's configured one.
        assert headers["anthropic-version"] == raw.http_request.headers["anthropic-version"]


async def test_upstream_rejections_reach_the_client_in_anthropics_shape(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "error_invalid.json", status=400)
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        client = _client(up.url, up.router.key)
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        body = info.value.body
        assert isinstance(body, dict) and body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        upstream_message = json.loads(reply.body)["error"]["message"]
        assert upstream_message in body["error"]["message"]


async def test_upstream_overload_is_529_overloaded_error(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "error_overloaded.json", status=529)
    async with upstreams(tmp_path, anthropic=[reply], retries=0) as up:
        client = _client(up.url, up.router.key)
        with pytest.raises(anthropic.OverloadedError) as info:
            await client.messages.create(
                model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.status_code == 529
        assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_an_error_event_mid_stream_reaches_the_sdk(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "error_midstream.sse")
    async with upstreams(tmp_path, anthropic=[reply]) as up:
        client = _client(up.url, up.router.key)
        with pytest.raises(anthropic.APIStatusError) as info:
            async with client.messages.stream(
                model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                async for _ in stream:
                    pass
        assert info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


MIXED = """
[routes.mixed]
deployments = ["anthropic/claude-sonnet-4-5-20250929", "echo/echo-1"]

[routes.gpt-then-claude]
deployments = ["openai/gpt-4o", "anthropic/claude-sonnet-4-5-20250929"]
"""


async def test_a_route_fails_over_from_native_to_translated(tmp_path: Path) -> None:
    overloaded = FakeReply.from_file(PLUGIN_DATA / "error_overloaded.json", status=529)
    async with upstreams(tmp_path, anthropic=[overloaded], extra_toml=MIXED, retries=0) as up:
        client = _client(up.url, up.router.key)
        raw = await client.messages.with_raw_response.create(
            model="mixed", max_tokens=16, messages=[{"role": "user", "content": "echo me"}]
        )
        message = await raw.parse()
        assert message.content[0].text == "echo me"  # type: ignore[union-attr]
        assert raw.headers["x-viberouter-deployment"] == "echo/echo-1"
        async with client.messages.stream(
            model="mixed", max_tokens=16, messages=[{"role": "user", "content": "and streamed"}]
        ) as stream:
            final = await stream.get_final_message()
        assert final.content[0].text == "and streamed"  # type: ignore[union-attr]
        assert len(up.anthropic.received) == 2  # each tried natively first


async def test_what_cannot_be_translated_goes_to_the_native_deployment(tmp_path: Path) -> None:
    reply = FakeReply.from_file(PLUGIN_DATA / "response_tool.json")
    async with upstreams(tmp_path, anthropic=[reply], extra_toml=MIXED) as up:
        client = _client(up.url, up.router.key)
        raw = await client.messages.with_raw_response.create(
            model="gpt-then-claude",
            max_tokens=16,
            tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}],
            messages=[{"role": "user", "content": "news?"}],
        )
        assert raw.headers["x-viberouter-deployment"] == "anthropic/claude-sonnet-4-5-20250929"
        assert up.openai.requests == []  # skipped: its translation would drop the tool
        assert up.anthropic.received[0]["tools"][0]["type"] == "web_search_20250305"


FILTERED = """
[guards]
filters = ["keywords"]

[guards.keywords]
output_keywords = ["Oslo"]
message = "Blocked by policy"
"""


async def test_output_filters_read_native_answers(tmp_path: Path) -> None:
    replies = [
        FakeReply.from_file(PLUGIN_DATA / "response_tool.json"),  # tool input names Oslo
        FakeReply.from_file(PLUGIN_DATA / "an1.sse", chunk_size=40),  # {"city": "Os" "lo"}
    ]
    async with upstreams(tmp_path, anthropic=replies, extra_toml=FILTERED) as up:
        client = _client(up.url, up.router.key)
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="claude", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert info.value.body["error"]["message"] == "Blocked by policy"  # type: ignore[index]
        async with client.messages.with_streaming_response.create(
            model="claude",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        ) as response:
            received = b"".join([chunk async for chunk in response.iter_bytes()])
        assert b'"partial_json":"{\\"city\\": \\"Os"' in received  # sent: no hit yet
        assert b'lo\\"}' not in received  # the fragment that completes the word is not
        assert received.endswith(
            b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error",'
            b'"message":"Blocked by policy"}}\n\n'
        )


async def test_keepalives_never_split_a_relayed_event(tmp_path: Path) -> None:
    """The upstream stalls mid-event for longer than the keep-alive interval: the
    router's keep-alive comes between whole events, and without the keep-alives the
    client got exactly the upstream's bytes."""
    from aiohttp import web

    from tests.router_harness import router_settings, start_router
    from tests.services import free_port

    body = (DATA / "native_thinking_tool.sse").read_bytes()
    cut = body.index(b'"thinking_delta"') + 5  # inside the first delta event

    async def upstream(request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(body[:cut])
        await asyncio.sleep(1.0)
        await resp.write(body[cut:])
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", upstream)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    extra = f"""
[providers.anth]
plugin = "anthropic"
settings = {{ base_url = "http://127.0.0.1:{port}", api_key = "k" }}
[providers.anth.models."claude-x"]
[routes.claude]
deployments = ["anth/claude-x"]
"""
    router = await start_router(router_settings(tmp_path, extra_toml=extra, keepalive=0.3))
    try:
        client = _client(router.url, router.key)
        async with client.messages.with_streaming_response.create(
            model="claude", max_tokens=64, messages=[{"role": "user", "content": "hi"}], stream=True
        ) as response:
            received = b"".join([chunk async for chunk in response.iter_bytes()])
    finally:
        await router.stop()
        await runner.cleanup()
    keepalive = b": keep-alive\n\n"
    assert keepalive in received  # the stall was long enough for one
    assert received.replace(keepalive, b"") == body
    for piece in received.split(keepalive)[:-1]:
        assert piece == b"" or piece.endswith(b"\n\n")  # keep-alives follow whole events


async def test_no_relayed_byte_carries_the_upstream_key(tmp_path: Path) -> None:
    """The upstream's own bytes are relayed as written, except the credential the
    router sent it (api_key "test-key" in tests/anthropic_upstreams.py): an upstream
    that quotes it (a debugging proxy, a careless echo) must not leak it to clients."""
    events = (PLUGIN_DATA / "an1.sse").read_bytes()
    first_text = events.index(b'"text":"', events.index(b"text_delta")) + len(b'"text":"')
    quoting = events[:first_text] + b"key test-key, " + events[first_text:]
    answer = {
        "id": "msg_q1",
        "type": "message",
        "role": "assistant",
        "model": UPSTREAM_MODEL,
        "content": [{"type": "text", "text": "your x-api-key was test-key"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 5},
    }
    replies = [FakeReply(body=quoting), FakeReply(body=json.dumps(answer).encode())]
    async with upstreams(tmp_path, anthropic=replies) as up:
        client = _client(up.url, up.router.key)
        hi: Any = [{"role": "user", "content": "hi"}]
        async with client.messages.stream(model="claude", max_tokens=16, messages=hi) as s:
            text = "".join([t async for t in s.text_stream])
        assert text.startswith("key [REDACTED], Checking")
        assert "test-key" not in text
        raw = await client.messages.with_raw_response.create(
            model="claude", max_tokens=16, messages=hi
        )
        assert b"test-key" not in raw.http_response.content
        assert b"your x-api-key was " in raw.http_response.content
