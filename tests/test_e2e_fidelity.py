"""Prompt caching and reasoning through the real router, with the official openai SDK
unmodified, against fakes that answer like Anthropic, Gemini and OpenAI: a
cache_control round trip whose upstream request carries the breakpoints and whose
usage reports the cache write then the read; reasoning tool loops with signed
thinking on Anthropic and thought signatures on Gemini, where the second request
must carry them back (the fakes refuse it otherwise); the cache counts in the
Responses dialect's usage."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fidelity_world import (
    ANTHROPIC_SIGNATURE,
    CACHED_TOKENS,
    GEMINI_SIGNATURE,
    MODELS,
    ServerFactory,
    World,
    start_world,
)

MARK = {"type": "ephemeral", "ttl": "1h"}
MANUAL = "You answer from this long manual. " * 20
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
async def world(tmp_path: Path, aiohttp_server: ServerFactory) -> AsyncIterator[World]:
    w = await start_world(tmp_path, aiohttp_server)
    try:
        yield w
    finally:
        await w.router.stop()


@pytest.fixture
async def api(world: World) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=world.router.base_url, api_key=world.router.key, max_retries=0
    ) as c:
        yield c


def _cached_messages(question: str) -> list[Any]:
    return [
        {"role": "system", "content": [{"type": "text", "text": MANUAL, "cache_control": MARK}]},
        {"role": "user", "content": question},
    ]


# ---------------------------------------------------------------- prompt caching


@pytest.mark.parametrize("stream", [False, True])
async def test_cache_control_round_trip_on_anthropic(
    world: World, api: openai.AsyncOpenAI, stream: bool
) -> None:
    c = api
    usages = []
    for question in ("first?", "second?"):
        if stream:
            chunks = await c.chat.completions.create(
                model=MODELS["anthropic"],
                messages=_cached_messages(question),
                tools=[{**WEATHER, "cache_control": MARK}],
                stream=True,
                stream_options={"include_usage": True},
            )
            usage = [chunk.usage async for chunk in chunks if chunk.usage][-1]
        else:
            reply = await c.chat.completions.create(
                model=MODELS["anthropic"],
                messages=_cached_messages(question),
                tools=[{**WEATHER, "cache_control": MARK}],
            )
            usage = reply.usage
        usages.append(usage.model_dump() if usage else {})
    assert world.anthropic.rejected == []
    sent = world.anthropic.received[-1]
    assert sent["system"] == [{"type": "text", "text": MANUAL, "cache_control": MARK}]
    assert sent["tools"][0]["cache_control"] == MARK
    written, read = (u["prompt_tokens_details"] for u in usages)
    assert written["cache_write_tokens"] == CACHED_TOKENS and written["cached_tokens"] == 0
    assert read["cached_tokens"] == CACHED_TOKENS and read["cache_write_tokens"] == 0
    # prompt_tokens counts every input token: 50 uncached plus the cached prefix
    assert usages[1]["prompt_tokens"] == 50 + CACHED_TOKENS


async def test_cache_control_is_removed_for_openai_and_gemini(
    world: World, api: openai.AsyncOpenAI
) -> None:
    for model in (MODELS["openai"], MODELS["gemini"]):
        reply = await api.chat.completions.create(model=model, messages=_cached_messages("hi"))
        assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
        assert reply.usage.prompt_tokens_details.cached_tokens in (16, 32)
    assert "cache_control" not in json.dumps(world.openai_requests()[-1])
    assert "cache" not in json.dumps(world.gemini_calls()[-1].body)


async def test_cache_counts_reach_the_responses_dialect(
    world: World, api: openai.AsyncOpenAI
) -> None:
    resp = await api.responses.create(
        model=MODELS["anthropic"], instructions="CACHED manual", input="hi"
    )
    assert resp.usage is not None
    assert resp.usage.input_tokens_details.cached_tokens == CACHED_TOKENS
    assert resp.usage.input_tokens == 50 + CACHED_TOKENS


# ---------------------------------------------------------------- reasoning tool loops


def _merged(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream deltas' reasoning_details merged by index, as OpenRouter's clients do."""
    merged: dict[int, dict[str, Any]] = {}
    for d in details:
        entry = merged.setdefault(d["index"], {k: v for k, v in d.items() if k != "text"})
        entry["text"] = entry.get("text", "") + (d.get("text") or "")
        if d.get("signature"):
            entry["signature"] = d["signature"]
    return list(merged.values())


async def _first_turn(
    c: openai.AsyncOpenAI, model: str, *, stream: bool, **extra: Any
) -> dict[str, Any]:
    """The assistant message of a reasoning turn that calls a tool, as a dict."""
    messages: Any = [{"role": "user", "content": "Weather in Oslo?"}]
    if not stream:
        reply = await c.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER], **extra
        )
        assert reply.choices[0].finish_reason == "tool_calls"
        return reply.choices[0].message.model_dump(exclude_none=True)
    chunks = await c.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER], stream=True, **extra
    )
    text, reasoning, details, calls = "", "", [], []
    async for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta.model_dump(exclude_none=True)
        text += delta.get("content") or ""
        reasoning += delta.get("reasoning_content") or ""
        details += delta.get("reasoning_details") or []
        for call in delta.get("tool_calls") or []:
            if call.get("id"):
                calls.append({"id": call["id"], "type": "function", "function": call["function"]})
            else:
                calls[call["index"]]["function"]["arguments"] += call["function"]["arguments"]
    message = {"role": "assistant", "content": text or None, "tool_calls": calls}
    return {**message, "reasoning_content": reasoning, "reasoning_details": _merged(details)}


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_reasoning_tool_loop_replays_the_signed_thinking(
    world: World, api: openai.AsyncOpenAI, stream: bool
) -> None:
    c = api
    model = MODELS["anthropic"]
    assistant = await _first_turn(c, model, stream=stream, reasoning_effort="low", max_tokens=1000)
    assert assistant["reasoning_content"] == "Let me work this out."
    (thought,) = assistant["reasoning_details"]
    assert thought["signature"] == ANTHROPIC_SIGNATURE
    assert thought["format"] == "anthropic-claude-v1"
    first = world.anthropic.received[-1]
    assert first["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert first["max_tokens"] == 3048  # the budget plus the client's 1000
    call_id = assistant["tool_calls"][0]["id"]
    reply = await c.chat.completions.create(
        model=model,
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            assistant,
            {"role": "tool", "tool_call_id": call_id, "content": "4C, snow"},
        ],
        tools=[WEATHER],
        reasoning_effort="low",
        max_tokens=1000,
    )
    assert world.anthropic.rejected == []
    assert reply.choices[0].message.content == "All done."
    replayed = world.anthropic.received[-1]["messages"][1]["content"]
    assert replayed[0] == {
        "type": "thinking",
        "thinking": "Let me work this out.",
        "signature": ANTHROPIC_SIGNATURE,
    }
    assert replayed[1]["type"] == "tool_use" and replayed[1]["id"] == call_id


async def test_anthropic_refuses_a_tool_loop_without_the_thinking(
    world: World, api: openai.AsyncOpenAI
) -> None:
    # The fake is as strict as Anthropic: the same loop without reasoning_details fails.
    c = api
    assistant = await _first_turn(c, MODELS["anthropic"], stream=False, reasoning_effort="low")
    assistant.pop("reasoning_details")
    with pytest.raises(openai.BadRequestError) as info:
        await c.chat.completions.create(
            model=MODELS["anthropic"],
            messages=[
                {"role": "user", "content": "Weather in Oslo?"},
                assistant,
                {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "4C"},
            ],
            tools=[WEATHER],
            reasoning_effort="low",
        )
    assert "must start with a thinking block" in info.value.response.json()["message"]


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_reasoning_tool_loop_returns_the_thought_signatures(
    world: World, api: openai.AsyncOpenAI, stream: bool
) -> None:
    c = api
    model = MODELS["gemini3"]
    reasoning = {"reasoning": {"effort": "low"}}
    assistant = await _first_turn(c, model, stream=stream, extra_body=reasoning)
    assert assistant["reasoning_content"] == "Thinking it over."
    config = world.gemini_calls()[-1].body["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingLevel": "low", "includeThoughts": True}
    call_id = assistant["tool_calls"][0]["id"]
    messages: Any = [
        {"role": "user", "content": "Weather in Oslo?"},
        assistant,
        {"role": "tool", "tool_call_id": call_id, "content": "4C, snow"},
    ]
    reply = await c.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER], extra_body=reasoning
    )
    assert world.gemini_violations() == []
    message = reply.choices[0].message.model_dump()
    assert message["content"] == "All done."
    # the text part's signature comes back as an encrypted detail ...
    assert message["reasoning_details"][-1]["data"] == GEMINI_SIGNATURE
    replayed = world.gemini_calls()[-1].body["contents"][1]["parts"]
    assert replayed[0]["functionCall"]["name"] == "get_weather"
    assert replayed[0]["thoughtSignature"] == GEMINI_SIGNATURE
    # ... and goes back on the turn when the conversation continues
    messages += [
        {
            "role": "assistant",
            "content": "All done.",
            "reasoning_details": message["reasoning_details"],
        },
        {"role": "user", "content": "Thanks"},
    ]
    await c.chat.completions.create(model=model, messages=messages, extra_body=reasoning)
    contents = world.gemini_calls()[-1].body["contents"]
    assert contents[3]["parts"] == [{"text": "All done.", "thoughtSignature": GEMINI_SIGNATURE}]


async def test_native_thinking_field_reaches_anthropic(
    world: World, api: openai.AsyncOpenAI
) -> None:
    reply = await api.chat.completions.create(
        model=MODELS["anthropic"],
        messages=[{"role": "user", "content": "think"}],
        max_tokens=4000,
        extra_body={"thinking": {"type": "enabled", "budget_tokens": 2000}},
    )
    assert world.anthropic.received[-1]["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    message = reply.choices[0].message.model_dump()
    assert message["reasoning"] == message["reasoning_content"] == "Let me work this out."


async def test_reasoning_exclude_hides_the_thinking(world: World, api: openai.AsyncOpenAI) -> None:
    reply = await api.chat.completions.create(
        model=MODELS["anthropic"],
        messages=[{"role": "user", "content": "think"}],
        extra_body={"reasoning": {"effort": "minimal", "exclude": True}},
    )
    assert world.anthropic.received[-1]["thinking"]["budget_tokens"] == 1024
    message = reply.choices[0].message.model_dump()
    assert message["content"] == "All done."
    assert message.get("reasoning_content") is None and message.get("reasoning_details") is None


async def test_reasoning_object_becomes_reasoning_effort_on_openai(
    world: World, api: openai.AsyncOpenAI
) -> None:
    await api.chat.completions.create(
        model=MODELS["openai"],
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"reasoning": {"effort": "high"}},
    )
    sent = world.openai_requests()[-1]
    assert sent["reasoning_effort"] == "high" and "reasoning" not in sent
