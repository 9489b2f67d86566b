"""Native pass-through pieces: the client's body with only the model replaced, the
client's version and beta headers forwarded, and the usage tap over recorded streams."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from fake_anthropic import FakeAnthropic, FakeReply, create_app
from viberouter_anthropic import AnthropicProvider, AnthropicSettings, AnthropicStreamTranslator
from viberouter_anthropic.native import AnthropicUsageTap, native_body, native_headers

from router_core.plugin_api import (
    Deployment,
    InvalidRequest,
    ModelCard,
    ModelError,
    PromptTokensDetails,
    UpstreamRateLimited,
    Usage,
)
from router_core.plugin_testing import split_events, translate

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

DEPLOYMENT = Deployment(
    id="anthropic/claude-sonnet-4-5",
    provider="anthropic",
    model="claude-sonnet-4-5-20250929",
    card=ModelCard(id="claude-sonnet-4-5", max_output_tokens=8192),
)

#: What a client like Claude Code sends: odd spacing, escapes, every kind of block.
CLIENT_BODY = (Path(__file__).parent / "data" / "native_client_body.json").read_bytes()


def test_native_body_replaces_only_the_model() -> None:
    out = native_body(CLIENT_BODY, "claude-sonnet-4-5-20250929")
    doc, sent = json.loads(out), json.loads(CLIENT_BODY)
    assert doc["model"] == "claude-sonnet-4-5-20250929"
    del sent["models"], sent["transforms"]
    sent["model"] = doc["model"]
    assert doc == sent
    assert list(doc) == list(sent)  # field order kept
    # Values are sliced out of the client's bytes, never re-encoded.
    for raw in (
        b'{"type": "text", "text": "caf\\u00e9", '
        b'"cache_control": {"type": "ephemeral", "ttl": "1h"}}',
        b'"signature": "EqQBCkYIBxgC"',
        b'{"type": "enabled", "budget_tokens": 1.024e3}',
    ):
        assert raw in out


def test_native_body_adds_a_missing_model_and_refuses_non_objects() -> None:
    assert native_body(b'{"max_tokens":1}', "m") == b'{"model":"m","max_tokens":1}'
    with pytest.raises(InvalidRequest):
        native_body(b"[1]", "m")
    with pytest.raises(InvalidRequest):
        native_body(b"{", "m")


def test_native_headers_merge_version_and_betas() -> None:
    base = {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "k",
        "anthropic-beta": "prompt-caching-2024-07-31",
    }
    client = {
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "interleaved-thinking-2025-05-14, prompt-caching-2024-07-31,,"
        "context-1m-2025-08-07",
        "x-api-key": "client-key-must-not-leak",
    }
    headers = native_headers(base, client, {"x-extra": "1"})
    assert headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "k",
        "anthropic-beta": "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14,"
        "context-1m-2025-08-07",
        "x-extra": "1",
    }
    assert native_headers({"anthropic-version": "v"}, {}, {}) == {"anthropic-version": "v"}


async def test_native_request_reaches_a_strict_upstream_unchanged(
    aiohttp_server: ServerFactory, anthropic_data: Path
) -> None:
    reply = FakeReply.from_file(anthropic_data / "thinking.sse")
    fake = FakeAnthropic(replies=[reply])
    server = await aiohttp_server(create_app(fake))
    provider = AnthropicProvider(
        AnthropicSettings(base_url=str(server.make_url("")), api_key="test-key")
    )
    assert provider.native_dialects == frozenset({"anthropic_messages"})
    upstream = provider.build_native_request(
        "anthropic_messages",
        "messages",
        CLIENT_BODY,
        {"anthropic-beta": "interleaved-thinking-2025-05-14"},
        DEPLOYMENT,
        stream=True,
    )
    assert upstream.framing == "sse"
    async with (
        aiohttp.ClientSession() as session,
        session.post(upstream.url, headers=upstream.headers, data=upstream.body) as resp,
    ):
        body = await resp.read()
    assert fake.rejected == []
    assert body == reply.body  # the upstream's bytes, as sent
    assert fake.received_raw == [upstream.body]
    assert fake.received_headers[0]["anthropic-beta"] == "interleaved-thinking-2025-05-14"


async def test_native_count_tokens(aiohttp_server: ServerFactory) -> None:
    fake = FakeAnthropic(count_tokens=1234)
    server = await aiohttp_server(create_app(fake))
    provider = AnthropicProvider(
        AnthropicSettings(base_url=str(server.make_url("")), api_key="test-key")
    )
    body = b'{"model":"sonnet","messages":[{"role":"user","content":"hi"}]}'
    upstream = provider.build_native_request(
        "anthropic_messages", "count_tokens", body, {}, DEPLOYMENT, stream=False
    )
    assert upstream.url.endswith("/v1/messages/count_tokens") and upstream.framing == "json"
    async with (
        aiohttp.ClientSession() as session,
        session.post(upstream.url, headers=upstream.headers, data=upstream.body) as resp,
    ):
        assert await resp.json() == {"input_tokens": 1234}
    assert fake.received_paths == ["/v1/messages/count_tokens"]


def test_native_request_refuses_other_dialects() -> None:
    provider = AnthropicProvider()
    with pytest.raises(InvalidRequest):
        provider.build_native_request(
            "openai_responses", "responses", b"{}", {}, DEPLOYMENT, stream=False
        )


def _tap(raw: bytes) -> tuple[AnthropicUsageTap, list[bool]]:
    tap = AnthropicUsageTap()
    commits = [tap.feed(event) for event in split_events(raw)]
    return tap, commits


def test_tap_reads_usage_and_stop_reason_from_a_stream(anthropic_data: Path) -> None:
    tap, commits = _tap((anthropic_data / "an1.sse").read_bytes())
    tap.close()
    assert tap.stop_reason == "tool_use"
    assert tap.usage() == Usage(
        prompt_tokens=412,
        completion_tokens=58,
        total_tokens=470,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=0, cache_write_tokens=0),
    )
    # message_start and ping are not content: an early error can still fail over.
    assert commits[:3] == [False, True, False]


def test_tap_counts_cache_reads_and_writes(anthropic_data: Path) -> None:
    raw = (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
        b'"model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":'
        b'10,"cache_creation_input_tokens":200,"cache_read_input_tokens":1800,"output_tokens":1}}}\n\n'
        b"event: message_delta\n"
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
        b'"usage":{"output_tokens":7}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    tap, _ = _tap(raw)
    usage = tap.usage()
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (2010, 7)
    assert usage.prompt_tokens_details == PromptTokensDetails(
        cached_tokens=1800, cache_write_tokens=200
    )


#: A stream whose cache write is split by TTL (Anthropic's ``usage.cache_creation``).
SPLIT_WRITES = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant",'
    b'"model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":'
    b'10,"cache_creation_input_tokens":5000,"cache_read_input_tokens":0,"cache_creation":'
    b'{"ephemeral_5m_input_tokens":1000,"ephemeral_1h_input_tokens":4000},"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":7}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
SPLIT_DETAILS = PromptTokensDetails(
    cached_tokens=0, cache_write_tokens=5000, cache_write_1h_tokens=4000
)


def test_tap_and_translator_keep_the_one_hour_part_of_cache_writes() -> None:
    tap, _ = _tap(SPLIT_WRITES)
    tap.close()
    usage = tap.usage()
    assert usage is not None and usage.prompt_tokens_details == SPLIT_DETAILS
    # the same split through the chat translation's final usage chunk
    translator = AnthropicStreamTranslator(
        "c", include_usage=True, completion_id="chatcmpl-t", created=1700000000
    )
    chunks = translate(translator, SPLIT_WRITES)
    final = chunks[-1].usage
    assert isinstance(final, Usage) and final.prompt_tokens_details == SPLIT_DETAILS
    # the whole-body answer too
    body = json.dumps(
        {"id": "m", "type": "message", "role": "assistant", "model": "c", "content": [],
         "stop_reason": "end_turn", "usage": {"input_tokens": 10, "output_tokens": 7,
         "cache_creation_input_tokens": 5000,
         "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 4000}}}
    ).encode()  # fmt: skip
    whole = AnthropicUsageTap()
    whole.read_body(body)
    read = whole.usage()
    assert read is not None and read.prompt_tokens_details == SPLIT_DETAILS
    # only 5-minute writes: the field stays unset, as before the split existed
    short = AnthropicUsageTap()
    short.read_body(body.replace(b'_1h_input_tokens": 4000', b'_1h_input_tokens": 0'))
    read = short.usage()
    assert read is not None
    assert read.prompt_tokens_details == PromptTokensDetails(
        cached_tokens=0, cache_write_tokens=5000
    )


def test_tap_raises_in_stream_errors(anthropic_data: Path) -> None:
    with pytest.raises(ModelError):
        _tap((anthropic_data / "error_first.sse").read_bytes())
    tap = AnthropicUsageTap()
    with pytest.raises(UpstreamRateLimited):
        tap.feed(
            split_events(
                b"event: error\n"
                b'data: {"type":"error","error":{"type":"rate_limit_error","message":"slow"}}\n\n'
            )[0]
        )


def test_tap_refuses_a_truncated_stream(anthropic_data: Path) -> None:
    tap, _ = _tap((anthropic_data / "truncated.sse").read_bytes())
    with pytest.raises(ModelError):
        tap.close()
    assert tap.usage() is not None  # what was read still counts


def test_tap_refuses_an_empty_stream() -> None:
    with pytest.raises(ModelError):
        _tap(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert AnthropicUsageTap().usage() is None


def test_tap_reads_a_json_body(anthropic_data: Path) -> None:
    tap = AnthropicUsageTap()
    tap.read_body((anthropic_data / "response_tool.json").read_bytes())
    tap.close()
    assert tap.stop_reason == "tool_use"
    usage = tap.usage()
    assert usage is not None and usage.total_tokens == 470
    with pytest.raises(ModelError):
        AnthropicUsageTap().read_body(b"not json")
