"""POST /v1/responses through the real router with the official openai SDK, unmodified:
plain, streamed, function tools with a tool-output round trip, previous_response_id,
text.format json_schema; against a Responses-speaking upstream (native pass-through)
and chat-only OpenAI, Anthropic, Gemini and echo deployments (translated). Plus
GET / DELETE of stored responses, account scoping, store: false, and refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from tests import plugin_fakes
from tests.responses_world import (
    MODELS,
    TRANSLATED,
    ServerFactory,
    World,
    client,
    fake_openai,
    metrics_with,
    running_world,
)

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}
ALL = list(MODELS)


@pytest.fixture
async def world(tmp_path: Path, aiohttp_server: ServerFactory) -> AsyncIterator[World]:
    async with running_world(tmp_path, aiohttp_server) as w:
        yield w


@pytest.mark.parametrize("kind", ALL)
async def test_plain(world: World, kind: str) -> None:
    resp = await client(world).responses.create(model=MODELS[kind], input="Say hello to Oslo")
    assert resp.status == "completed"
    assert resp.output_text
    assert resp.usage is not None and resp.usage.input_tokens > 0
    assert resp.usage.total_tokens == resp.usage.input_tokens + resp.usage.output_tokens
    if kind == "native":
        assert resp.output_text == "Native: Say hello to Oslo"
        [sent] = world.native_requests()
        assert sent["model"] == "gpt-5" and sent["input"] == "Say hello to Oslo"
    else:
        assert resp.id.startswith("resp_") and resp.model == MODELS[kind]


@pytest.mark.parametrize("kind", ALL)
async def test_streamed(world: World, kind: str) -> None:
    stream = await client(world).responses.create(
        model=MODELS[kind], input="Stream me a greeting", stream=True
    )
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert text and text == final.output_text
    assert final.usage is not None and final.usage.output_tokens > 0
    added = [e.item.id for e in events if e.type == "response.output_item.added"]
    done = [e.item.id for e in events if e.type == "response.output_item.done"]
    assert added == done == [item.id for item in final.output]


@pytest.mark.parametrize("kind", ALL)
async def test_function_tool_round_trip(world: World, kind: str) -> None:
    c = client(world)
    chat_fake = world.chat[fake_openai.FAKE_OPENAI].config
    if kind == "chat":  # the chat-only fake answers from fixtures: a tool call first
        chat_fake.json = plugin_fakes.data("openai", "openai_completion_tools.json").read_bytes()
    first = await c.responses.create(
        model=MODELS[kind],
        input="What is the get_weather in Oslo?",
        tools=[WEATHER],  # type: ignore[list-item]
        store=False,
    )
    chat_fake.json = fake_openai.FakeOpenAIConfig().json
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "get_weather"
    assert isinstance(json.loads(calls[0].arguments), dict)
    history: list[Any] = [{"role": "user", "content": "What is the get_weather in Oslo?"}]
    history += [item.model_dump(exclude_none=True) for item in first.output]
    history += [
        {"type": "function_call_output", "call_id": call.call_id, "output": "4C, snow"}
        for call in calls
    ]
    second = await c.responses.create(
        model=MODELS[kind],
        input=history,
        tools=[WEATHER],
        store=False,  # type: ignore[list-item]
    )
    assert second.status == "completed"
    assert second.output_text
    assert not [item for item in second.output if item.type == "function_call"]
    if kind == "chat":
        tool_turns = [m for m in world.chat_requests()[-1]["messages"] if m["role"] == "tool"]
        assert tool_turns[0]["content"] == "4C, snow"
        assert tool_turns[0]["tool_call_id"] == calls[0].call_id


@pytest.mark.parametrize("kind", ["echo", "chat", "anthropic", "native"])
async def test_previous_response_id(world: World, kind: str) -> None:
    c = client(world)
    first = await c.responses.create(
        model=MODELS[kind], input="My name is Ada.", instructions="Be brief."
    )
    second = await c.responses.create(
        model=MODELS[kind], input="What is my name?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id and second.output_text
    if kind == "chat":
        messages = world.chat_requests()[-1]["messages"]
        # The stored conversation, not the earlier instructions, comes first.
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert messages[0]["content"] == "My name is Ada."
        assert messages[1]["content"] == first.output_text
    if kind == "native":
        sent = world.native_requests()[-1]
        assert sent["previous_response_id"] == first.id  # OpenAI keeps its own chain
    stored = await c.responses.retrieve(second.id)
    assert stored.id == second.id and stored.output_text == second.output_text


@pytest.mark.parametrize("kind", ["echo", "gemini", "native"])
async def test_text_format_json_schema(world: World, kind: str) -> None:
    resp = await client(world).responses.create(
        model=MODELS[kind],
        input="Weather in Oslo as JSON",
        text={
            "format": {"type": "json_schema", "name": "weather", "schema": SCHEMA, "strict": True}
        },
    )
    doc = json.loads(resp.output_text)
    assert set(doc) == {"city", "celsius"}
    assert resp.text.format.type == "json_schema"  # type: ignore[union-attr]


async def test_json_schema_reaches_anthropic_as_structured_output(world: World) -> None:
    # Claude Sonnet 4.5's card has native structured outputs: text.format becomes
    # output_config.format (models without it get a forced answer tool, see the
    # anthropic plugin's tests).
    resp = await client(world).responses.create(
        model=MODELS["anthropic"],
        input="JSON please",
        text={"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA}},
    )
    assert resp.status == "completed"
    sent = world.anthropic.received[-1]
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert world.anthropic.rejected == []


async def test_chat_upstream_gets_response_format(world: World) -> None:
    await client(world).responses.create(
        model=MODELS["chat"],
        input="JSON please",
        text={"format": {"type": "json_schema", "name": "weather", "schema": SCHEMA}},
        reasoning={"effort": "low"},
        max_output_tokens=64,
    )
    sent = world.chat_requests()[-1]
    assert sent["response_format"]["json_schema"]["name"] == "weather"
    assert sent["reasoning_effort"] == "low" and sent["max_completion_tokens"] == 64


async def test_get_and_delete_are_scoped_to_the_account(world: World) -> None:
    c = client(world)
    resp = await c.responses.create(model="echo", input="keep me", metadata={"k": "v"})
    got = await c.responses.retrieve(resp.id)
    assert got.output_text == resp.output_text and got.metadata == {"k": "v"}
    state = world.router.state
    other = await state.accounts.create_account("other")
    _, secret = await state.accounts.create_key(other.id, "other")
    with pytest.raises(openai.NotFoundError):
        await client(world, secret).responses.retrieve(resp.id)
    with pytest.raises(openai.BadRequestError) as info:
        await client(world, secret).responses.create(
            model="echo", input="hi", previous_response_id=resp.id
        )
    assert info.value.code == "previous_response_not_found"
    await c.responses.delete(resp.id)
    with pytest.raises(openai.NotFoundError):
        await c.responses.retrieve(resp.id)


async def test_counted_under_the_responses_endpoint(world: World) -> None:
    await client(world).responses.create(model="echo", input="count me")
    exposition = await metrics_with(world, 'endpoint="openai_responses"')
    assert 'endpoint="openai_responses"' in exposition


async def test_stored_in_redis_when_state_is_redis(
    tmp_path: Path, aiohttp_server: ServerFactory, redis_url: str
) -> None:
    async with running_world(tmp_path, aiohttp_server, backend="redis", redis_url=redis_url) as w:
        c = client(w)
        first = await c.responses.create(model=MODELS["chat"], input="My name is Ada.")
        second = await c.responses.create(
            model=MODELS["chat"], input="What is my name?", previous_response_id=first.id
        )
        assert [m["role"] for m in w.chat_requests()[-1]["messages"]] == [
            "user",
            "assistant",
            "user",
        ]
        assert (await c.responses.retrieve(second.id)).id == second.id
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(redis_url)
        try:
            key = f"vr:resp:{w.router.account_id}:{first.id}"
            assert await r.exists(key) and 0 < await r.ttl(key) <= 720 * 3600
        finally:
            await r.aclose()


async def test_item_reference_is_resolved_from_the_store(world: World) -> None:
    # What the AI SDK sends with store on: earlier output items by reference.
    c = client(world)
    first = await c.responses.create(model=MODELS["chat"], input="Remember this.")
    message_id = first.output[0].id
    await c.responses.create(
        model=MODELS["chat"],
        input=[
            {"type": "item_reference", "id": message_id},
            {"role": "user", "content": "What did you say?"},
        ],
    )
    messages = world.chat_requests()[-1]["messages"]
    assert messages == [
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "What did you say?"},
    ]
    with pytest.raises(openai.BadRequestError) as info:
        await c.responses.create(
            model=MODELS["chat"], input=[{"type": "item_reference", "id": "msg_unknown"}]
        )
    assert info.value.code == "not_found" and "msg_unknown" in info.value.message


async def test_store_false_keeps_nothing(world: World) -> None:
    c = client(world)
    resp = await c.responses.create(model="echo", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        await c.responses.retrieve(resp.id)


@pytest.mark.parametrize("kind", TRANSLATED)
async def test_builtin_tool_is_refused_when_translating(world: World, kind: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await client(world).responses.create(
            model=MODELS[kind], input="search", tools=[{"type": "web_search"}]
        )
    body: Any = info.value.body
    assert body["type"] == "invalid_request_error" and body["param"] == "tools[0]"
    assert "web_search" in body["message"]


async def test_builtin_tools_pass_through_to_a_native_deployment(world: World) -> None:
    resp = await client(world).responses.create(
        model=MODELS["native"], input="search the web", tools=[{"type": "web_search"}]
    )
    assert resp.output_text == "Native: search the web"
    assert world.native_requests()[-1]["tools"] == [{"type": "web_search"}]


async def test_native_chain_unknown_to_the_router_goes_to_the_upstream(world: World) -> None:
    # Not in the router's store: only the native deployment may know it (it does not).
    with pytest.raises(openai.BadRequestError) as info:
        await client(world).responses.create(
            model=MODELS["native"], input="again", previous_response_id="resp_elsewhere"
        )
    assert "resp_elsewhere" in info.value.message
    assert world.native_requests() == []  # the fake refused it before recording


@pytest.mark.parametrize("stream", [False, True])
async def test_native_usage_is_billed_from_the_tap(world: World, stream: bool) -> None:
    resp = await client(world).responses.create(
        model=MODELS["native"], input="bill me", stream=stream
    )
    if stream:
        assert [e async for e in resp][-1].type == "response.completed"  # type: ignore[union-attr]
    state = world.router.state
    await state.ledger.flush()
    [row] = await state.store.query_usage(key_id=world.router.key_id)
    assert (row.model, row.prompt_tokens, row.completion_tokens) == ("native/gpt-5", 11, 7)


async def test_native_stream_failing_before_output_fails_over(world: World) -> None:
    # route "mixed": the native deployment first, echo (translated) behind it
    stream = await client(world).responses.create(
        model="mixed", input="FAIL_EARLY then echo", stream=True
    )
    events = [event async for event in stream]
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "FAIL_EARLY then echo"  # type: ignore[union-attr]
    # failed in-band before any output, so not committed: one retry, then echo
    assert len(world.native_requests()) == 2


async def test_native_stream_failing_after_output_relays_its_error(world: World) -> None:
    stream = await client(world).responses.create(
        model=MODELS["native"], input="FAIL_LATE now", stream=True
    )
    seen: list[str] = []
    with pytest.raises(openai.APIError, match="The fake failed as asked"):
        async for event in stream:
            seen.append(event.type)
    assert "response.output_text.delta" in seen  # committed before the failure


async def test_errors_are_openai_shaped(world: World) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(
            world.router.base_url + "/responses",
            json={"model": "echo", "input": "x"},
            headers={"Authorization": "Bearer wrong"},
        ) as r:
            assert r.status == 401
            body = await r.json()
        async with s.post(
            world.router.base_url + "/responses",
            json={"model": "nope", "input": "x"},
            headers={"Authorization": f"Bearer {world.router.key}"},
        ) as r:
            assert r.status == 400
            missing = await r.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == "invalid_api_key"
    assert missing["error"]["code"] == "model_not_found"
