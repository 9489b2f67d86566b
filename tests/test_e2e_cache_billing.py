"""A prompt-cache round trip through the router to the fake Anthropic: the marker
reaches the upstream, the cache usage comes back to the client, and the ledger bills
cache writes and reads at their own rates (claude-sonnet-4-5 from the genai-prices
list: 3 input, 3.75 cache write with the 5-minute TTL and 6 with the one-hour TTL, 0.30
cache read, 15 output, US$ per million: Anthropic's 1.25x and 2x the input price)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from pathlib import Path

import anthropic
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests import plugin_fakes
from tests.router_harness import post_chat, router_settings, start_router

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
fake_anthropic = plugin_fakes.load("anthropic", "fake_anthropic")

CONFIG = """
[providers.anthropic]
plugin = "anthropic"
settings = {{ base_url = "{base}", api_key = "test-key" }}
"""

LONG_SYSTEM = "You are a careful assistant. " * 50


async def test_cache_writes_and_reads_are_billed_at_their_rates(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    fake = fake_anthropic.FakeAnthropic(
        responder=fake_anthropic.prompt_cache_responder(
            prefix_tokens=6_000, input_tokens=2_000, output_tokens=500
        )
    )
    upstream = await aiohttp_server(fake_anthropic.create_app(fake))
    toml = CONFIG.format(base=str(upstream.make_url("")).rstrip("/"))
    router = await start_router(router_settings(tmp_path, extra_toml=toml))
    body = {
        "model": "anthropic/claude-sonnet-4-5",
        "max_tokens": 600,
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
                ],
            },
            {"role": "user", "content": "Hello"},
        ],
    }
    try:
        first = await post_chat(router, body)
        second = await post_chat(router, body)
        assert (first.status, second.status, fake.rejected) == (200, 200, [])
        # the breakpoint reached Anthropic
        assert fake.received[0]["system"][0]["cache_control"] == {"type": "ephemeral"}
        # the client sees every input token, and which of them the cache wrote or read
        written, read = first.json()["usage"], second.json()["usage"]
        assert written["prompt_tokens"] == read["prompt_tokens"] == 8_000
        assert written["prompt_tokens_details"]["cache_write_tokens"] == 6_000
        assert read["prompt_tokens_details"]["cached_tokens"] == 6_000
        await router.state.ledger.flush()
        [row] = await router.state.store.query_usage(key_id=router.key_id)
    finally:
        await router.stop()
    write_cost = (2_000 * 3 + 6_000 * 3.75 + 500 * 15) / 1e6  # 0.036
    read_cost = (2_000 * 3 + 6_000 * 0.30 + 500 * 15) / 1e6  # 0.0153
    assert (row.requests, row.prompt_tokens) == (2, 16_000)
    assert math.isclose(row.cost_usd, write_cost + read_cost)
    # at the input rate both would have cost 2 x (8,000 x 3 + 500 x 15) / 1e6 = 0.063
    assert row.cost_usd < 0.06


async def test_one_hour_cache_writes_are_billed_at_their_own_rate(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    """Anthropic splits a write by TTL in ``usage.cache_creation``: the one-hour part
    pays 2x the input rate, the 5-minute part 1.25x. Through the chat API (translated)
    and the Messages API (passed through), each billed from the usage it reported."""
    fake = fake_anthropic.FakeAnthropic(
        responder=fake_anthropic.prompt_cache_responder(
            prefix_tokens=6_000, input_tokens=2_000, output_tokens=500, one_hour_tokens=4_000
        )
    )
    upstream = await aiohttp_server(fake_anthropic.create_app(fake))
    toml = CONFIG.format(base=str(upstream.make_url("")).rstrip("/"))
    router = await start_router(router_settings(tmp_path, extra_toml=toml))
    one_hour = {"type": "ephemeral", "ttl": "1h"}
    five_minutes = {"type": "ephemeral", "ttl": "5m"}
    body = {
        "model": "anthropic/claude-sonnet-4-5",
        "max_tokens": 600,
        "messages": [
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": LONG_SYSTEM, "cache_control": one_hour},
                    {"type": "text", "text": "Today's notes.", "cache_control": five_minutes},
                ],
            },
            {"role": "user", "content": "Hello"},
        ],
    }
    try:
        chat = await post_chat(router, body)
        assert (chat.status, fake.rejected) == (200, [])
        assert [b["cache_control"] for b in fake.received[0]["system"]] == [
            one_hour,
            five_minutes,
        ]
        details = chat.json()["usage"]["prompt_tokens_details"]
        assert (details["cache_write_tokens"], details["cache_write_1h_tokens"]) == (6_000, 4_000)
        async with anthropic.AsyncAnthropic(
            base_url=router.url, api_key=router.key, max_retries=0
        ) as client:
            message = await client.messages.create(
                model="anthropic/claude-sonnet-4-5",
                max_tokens=600,
                system=[{"type": "text", "text": "Another prefix.", "cache_control": one_hour}],
                messages=[{"role": "user", "content": "Hello"}],
            )
        creation = message.usage.cache_creation
        assert creation is not None and creation.ephemeral_1h_input_tokens == 4_000
        await router.state.ledger.flush()
        [row] = await router.state.store.query_usage(key_id=router.key_id)
    finally:
        await router.stop()
    # 2,000 uncached x 3 + 2,000 x 3.75 + 4,000 x 6 + 500 x 15, per million, twice
    each = (2_000 * 3 + 2_000 * 3.75 + 4_000 * 6 + 500 * 15) / 1e6  # 0.045
    assert (row.requests, row.prompt_tokens) == (2, 16_000)
    assert math.isclose(row.cost_usd, 2 * each)
    # every write at the 5-minute rate would have cost 2 x 0.036
    assert row.cost_usd > 2 * 0.036
