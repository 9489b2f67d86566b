"""POST /v1/messages with the official anthropic SDK, routed to deployments that do not
speak the Messages API (OpenAI-compatible, Gemini, echo): translation through the
canonical chat form, both ways, and a clear 400 for what a target cannot do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest
from fake_gemini import CALLS
from fake_gemini import FakeReply as GeminiReply
from fake_openai import FakeOpenAIConfig

from tests.anthropic_upstreams import GEMINI_DATA, upstreams

OPENAI_DATA = Path(__file__).parents[1] / "plugins" / "viberouter-openai" / "tests" / "data"
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _client(url: str, key: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=key, max_retries=0)


def _text(message: Any) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


async def test_echo_create_and_stream(tmp_path: Path) -> None:
    async with upstreams(tmp_path) as up:
        client = _client(up.url, up.router.key)
        message = await client.messages.create(
            model="echo", max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
        )
        assert _text(message) == "Hello there"
        assert message.stop_reason == "end_turn" and message.role == "assistant"
        assert message.id.startswith("msg_")
        assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0

        deltas: list[str] = []
        async with client.messages.stream(
            model="echo", max_tokens=64, messages=[{"role": "user", "content": "one two three"}]
        ) as stream:
            async for event in stream:
                if event.type == "text":
                    deltas.append(event.text)
            final = await stream.get_final_message()
        assert len(deltas) > 1 and "".join(deltas) == "one two three" == _text(final)
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens > 0


async def test_openai_tool_round_trip(tmp_path: Path) -> None:
    config = FakeOpenAIConfig(json=(OPENAI_DATA / "openai_completion_tools.json").read_bytes())
    async with upstreams(tmp_path, openai=config) as up:
        client = _client(up.url, up.router.key)
        question: Any = {"role": "user", "content": "Weather in Oslo?"}
        first = await client.messages.create(
            model="gpt",
            max_tokens=128,
            system="Be brief.",
            tools=[WEATHER_TOOL],
            tool_choice={"type": "any"},
            messages=[question],
        )
        assert first.stop_reason == "tool_use"
        call = first.content[0]
        assert call.type == "tool_use" and call.input == {"city": "Oslo"} and call.id == "call_A"
        sent = up.openai.requests[0]
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent["tool_choice"] == "required"
        assert sent["tools"][0]["function"]["parameters"] == WEATHER_TOOL["input_schema"]

        await client.messages.create(
            model="gpt",
            max_tokens=128,
            tools=[WEATHER_TOOL],
            messages=[
                question,
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_A", "content": "4C, snow"},
                        {"type": "text", "text": "And Rome?"},
                    ],
                },
            ],
        )
        second = up.openai.requests[1]["messages"]
        assert [m["role"] for m in second] == ["user", "assistant", "tool", "user"]
        assert second[1]["tool_calls"][0]["function"] == {
            "name": "get_weather",
            "arguments": '{"city":"Oslo"}',
        }
        assert second[2] == {"role": "tool", "content": "4C, snow", "tool_call_id": "call_A"}


async def test_openai_streamed_tool_arguments_arrive_as_input_json(tmp_path: Path) -> None:
    config = FakeOpenAIConfig(sse=(OPENAI_DATA / "openai_oa2.sse").read_bytes(), split=11)
    async with upstreams(tmp_path, openai=config) as up:
        client = _client(up.url, up.router.key)
        partial: list[str] = []
        async with client.messages.stream(
            model="gpt",
            max_tokens=128,
            tools=[WEATHER_TOOL],
            messages=[{"role": "user", "content": "Weather?"}],
        ) as stream:
            async for event in stream:
                if event.type == "input_json":
                    partial.append(event.partial_json)
            final = await stream.get_final_message()
        assert len(partial) >= 1
        calls = [b for b in final.content if b.type == "tool_use"]
        assert calls and all(isinstance(c.input, dict) for c in calls)
        assert final.stop_reason == "tool_use"


async def test_gemini_thinking_and_text(tmp_path: Path) -> None:
    replies = [
        GeminiReply.from_file(GEMINI_DATA / "response_text.json"),
        GeminiReply.from_file(GEMINI_DATA / "ge1.sse"),
    ]
    async with upstreams(tmp_path, gemini=replies) as up:
        client = _client(up.url, up.router.key)
        message = await client.messages.create(
            model="gem",
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": "Count to three in Swedish"}],
        )
        assert [b.type for b in message.content] == ["thinking", "text"]
        assert message.content[0].thinking == "Counting first."  # type: ignore[union-attr]
        assert _text(message) == "Tre: en, två, tre."
        # Gemini's cached prompt tokens come back as a cache read.
        assert message.usage.cache_read_input_tokens == 6
        config = up.gemini[CALLS][0].body["generationConfig"]
        assert config["thinkingConfig"]["includeThoughts"] is True
        assert config["maxOutputTokens"] == 4096

        async with client.messages.stream(
            model="gem", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            final = await stream.get_final_message()
        assert _text(final)


async def test_untranslatable_request_is_a_400_naming_the_field(tmp_path: Path) -> None:
    async with upstreams(tmp_path) as up:
        client = _client(up.url, up.router.key)
        with pytest.raises(anthropic.BadRequestError) as info:
            await client.messages.create(
                model="gpt",
                max_tokens=64,
                tools=[{"type": "web_search_20250305", "name": "web_search"}],
                messages=[{"role": "user", "content": "news?"}],
            )
        error = info.value.body["error"]  # type: ignore[index]
        assert error["type"] == "invalid_request_error"
        assert error["message"].startswith("tools.0.type: ")
        assert up.openai.requests == []  # refused before anything went upstream


async def test_count_tokens_is_estimated_for_translated_targets(tmp_path: Path) -> None:
    async with upstreams(tmp_path) as up:
        client = _client(up.url, up.router.key)
        plain = await client.messages.count_tokens(
            model="gpt", messages=[{"role": "user", "content": "hello world"}]
        )
        with_tools = await client.messages.count_tokens(
            model="gpt",
            system="You are a very careful assistant with many rules to follow.",
            tools=[WEATHER_TOOL],
            messages=[{"role": "user", "content": "hello world"}],
        )
        assert 0 < plain.input_tokens < with_tools.input_tokens
        assert up.openai.requests == []


async def test_raw_stream_is_anthropics_event_grammar(tmp_path: Path) -> None:
    """Every data line has its event line, the JSON type equals the event name, block
    indexes are contiguous from 0, and the stream ends with message_stop."""
    async with upstreams(tmp_path) as up:
        client = _client(up.url, up.router.key)
        async with client.messages.with_streaming_response.create(
            model="echo",
            max_tokens=64,
            messages=[{"role": "user", "content": "a b c"}],
            stream=True,
        ) as response:
            raw = b"".join([chunk async for chunk in response.iter_bytes()])
    events = [e for e in raw.decode().split("\n\n") if e]
    names = []
    for event in events:
        lines = event.split("\n")
        if lines[0].startswith(":"):
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ")
        name = lines[0].removeprefix("event: ")
        assert json.loads(lines[1].removeprefix("data: "))["type"] == name
        names.append(name)
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
