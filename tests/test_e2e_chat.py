"""The real router on loopback, driven by the official openai SDK (echo provider)."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city", "days"],
        },
    },
}


async def test_plain_completion(openai_client: openai.AsyncOpenAI) -> None:
    resp = await openai_client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "Hello router"}]
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "Hello router"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0


async def test_alias_and_provider_model_names(openai_client: openai.AsyncOpenAI) -> None:
    for name in ("echo-latest", "echo/echo-1"):
        resp = await openai_client.chat.completions.create(
            model=name, messages=[{"role": "user", "content": "hi"}]
        )
        assert resp.choices[0].message.content == "hi"


async def test_stream_with_usage(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finishes, usages, roles = "", [], [], 0
    async for chunk in stream:
        if chunk.usage is not None:
            usages.append(chunk.usage)
            assert chunk.choices == []
            continue
        for c in chunk.choices:
            roles += c.delta.role == "assistant"
            text += c.delta.content or ""
            if c.finish_reason:
                finishes.append(c.finish_reason)
    assert text == "one two three four"
    assert finishes == ["stop"]
    assert roles == 1
    assert len(usages) == 1 and usages[0].completion_tokens > 0


async def test_stream_without_usage_has_no_usage_key(router: RunningRouter) -> None:
    reply = await post_chat(
        router, {"model": "echo", "stream": True, "messages": [{"role": "user", "content": "a b"}]}
    )
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/event-stream")
    assert reply.headers["Cache-Control"] == "no-cache"
    assert reply.headers["X-Accel-Buffering"] == "no"
    body = reply.body.decode()
    events = [e for e in body.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    for e in events[:-1]:
        assert e.startswith("data: {")
        assert "usage" not in json.loads(e[6:])


async def test_tool_call_round_trip(openai_client: openai.AsyncOpenAI) -> None:
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "What is the get_weather in Oslo?"}
    ]
    resp = await openai_client.chat.completions.create(
        model="echo",
        messages=messages,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    assert isinstance(args["city"], str) and isinstance(args["days"], int) and args["days"] >= 1
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "4C and snow"})
    resp2 = await openai_client.chat.completions.create(
        model="echo",
        messages=messages,
        tools=[WEATHER_TOOL],  # type: ignore[list-item, arg-type]
    )
    assert resp2.choices[0].finish_reason == "stop"
    assert "4C and snow" in (resp2.choices[0].message.content or "")


async def test_streamed_tool_call(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "call get_weather please"}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice="required",
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    fragments = 0
    async for chunk in stream:
        for c in chunk.choices:
            for tc in c.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] = tc.function.name
                if tc.function and tc.function.arguments:
                    slot["arguments"] += tc.function.arguments
                    fragments += 1
            finish = c.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    assert fragments > 1  # arguments really arrive as fragments
    assert set(json.loads(calls[0]["arguments"])) >= {"city", "days"}


async def test_models_list_and_get(
    openai_client: openai.AsyncOpenAI, router: RunningRouter
) -> None:
    page = await openai_client.models.list()
    ids = {m.id for m in page.data}
    assert {"echo", "echo/echo-1"} <= ids
    assert "echo-latest" not in ids  # aliases fold into their route
    card = await openai_client.models.retrieve("echo")
    extra = card.model_extra or {}
    assert extra["context_length"] > 0 and extra["status"] == "available"
    assert extra["capabilities"]["tools"] is True
    assert extra["aliases"] == ["echo-latest"]
    with pytest.raises(openai.NotFoundError) as exc:
        await openai_client.models.retrieve("nope")
    assert exc.value.response.json() == {
        "error": "invalid_model",
        "message": "The model 'nope' does not exist",
    }


async def test_request_id_echoed_or_generated(router: RunningRouter) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(router.url + "/healthz", headers={"X-Request-ID": "abc-123"}) as r:
            assert r.headers["X-Request-ID"] == "abc-123"
        async with s.get(router.url + "/healthz") as r:
            assert len(r.headers["X-Request-ID"]) == 24
        async with s.get(router.url + "/readyz") as r:
            body = await r.json()
            assert r.status == 200 and body["status"] == "ready" and "echo" in body["providers"]


async def test_served_headers(router: RunningRouter) -> None:
    r = await post_chat(router, {"model": "echo", "messages": [{"role": "user", "content": "x"}]})
    assert r.status == 200
    assert r.headers["X-VibeRouter-Provider"] == "echo"
    assert r.headers["X-VibeRouter-Deployment"] == "echo/echo-1"
    assert float(r.headers["x-viberouter-overhead-ms"]) >= 0


async def test_timeout_maps_to_timeout_error(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, first_byte=0.3, retries=0))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        with pytest.raises(openai.APIStatusError) as exc:
            await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "[[echo:hang]] hi"}]
            )
        assert exc.value.status_code == 504
        assert exc.value.response.json() == {
            "error": "timeout",
            "message": "The model provider did not answer in time",
        }
    finally:
        await router.stop()
