"""middle-out on long tool-using conversations: unit rules and through the router."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import openai
import pytest

from router_core.api.chat import ChatRequest, Message
from router_core.guards import estimate_prompt_tokens
from router_core.transforms import middle_out
from tests.router_harness import post_chat, router_settings, start_router

FILLER = "The quick brown fox jumps over the lazy dog while the river keeps flowing. " * 8


def conversation(turns: int) -> list[dict[str, Any]]:
    """A system prompt, then ``turns`` rounds of user -> tool call -> tool result ->
    answer, then a final user question."""
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful agent."}]
    for t in range(turns):
        msgs.append({"role": "user", "content": f"round {t}: {FILLER}"})
        msgs.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{t}_a",
                        "type": "function",
                        "function": {"name": "search", "arguments": f'{{"q": "round {t}"}}'},
                    },
                    {
                        "id": f"call_{t}_b",
                        "type": "function",
                        "function": {"name": "fetch", "arguments": f'{{"n": {t}}}'},
                    },
                ],
            }
        )
        msgs.append({"role": "tool", "tool_call_id": f"call_{t}_a", "content": FILLER})
        msgs.append({"role": "tool", "tool_call_id": f"call_{t}_b", "content": FILLER})
        msgs.append({"role": "assistant", "content": f"answer {t}: {FILLER}"})
    msgs.append({"role": "user", "content": "Now summarise everything."})
    return msgs


def request(messages: list[dict[str, Any]], **extra: Any) -> ChatRequest:
    return msgspec.convert({"model": "m", "messages": messages, **extra}, ChatRequest)


def assert_tool_pairs_intact(messages: list[Message]) -> None:
    """Every tool result follows the assistant message that called it, and every
    call has its result."""
    open_calls: set[str] = set()
    for m in messages:
        if m.role == "assistant" and isinstance(m.tool_calls, list):
            assert not open_calls, f"calls without results: {open_calls}"
            open_calls = {tc.id for tc in m.tool_calls}
        elif m.role == "tool":
            assert m.tool_call_id in open_calls, f"orphan tool result {m.tool_call_id}"
            open_calls.discard(str(m.tool_call_id))
        else:
            assert not open_calls, f"calls without results: {open_calls}"
    assert not open_calls


def test_fitting_request_is_unchanged() -> None:
    req = request(conversation(2))
    out = middle_out(req, max_tokens=100_000, max_messages=1000)
    assert out.removed == 0 and out.request is req


def test_trims_to_fit_keeping_system_last_user_and_tool_pairs() -> None:
    req = request(conversation(30))
    full = estimate_prompt_tokens(req)
    budget = full // 4
    out = middle_out(req, max_tokens=budget, max_messages=1000)
    kept = out.request.messages
    assert out.removed > 0
    assert estimate_prompt_tokens(out.request) <= budget
    assert kept[0].role == "system" and kept[0].content == "You are a careful agent."
    assert kept[-1].content == "Now summarise everything."
    assert_tool_pairs_intact(kept)
    # middle out: the first and the last rounds survive, the middle ones go
    texts = [m.content for m in kept if isinstance(m.content, str)]
    assert any(t.startswith("round 0:") for t in texts)
    assert any(t.startswith("answer 29:") for t in texts)
    assert not any(t.startswith("round 15:") for t in texts)
    assert len(req.messages) - len(kept) == out.removed


def test_message_count_limit_also_trims() -> None:
    req = request(conversation(10))  # 52 messages
    out = middle_out(req, max_tokens=10**9, max_messages=20)
    assert len(out.request.messages) <= 20
    assert_tool_pairs_intact(out.request.messages)


def test_never_drops_the_current_turn_or_system() -> None:
    # The last user message is followed by a tool round (the turn in progress).
    msgs = conversation(5)
    msgs.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_now", "type": "function", "function": {"name": "s", "arguments": "{}"}}
            ],
        }
    )
    msgs.append({"role": "tool", "tool_call_id": "call_now", "content": FILLER * 3})
    req = request(msgs)
    out = middle_out(req, max_tokens=1, max_messages=1000)  # cannot fit: trims all it may
    kept = out.request.messages
    assert [m.role for m in kept] == ["system", "user", "assistant", "tool"]
    assert kept[1].content == "Now summarise everything."
    assert kept[-1].tool_call_id == "call_now"


def test_scale_accounts_for_a_plugin_tokenizer() -> None:
    req = request(conversation(20))
    budget = estimate_prompt_tokens(req) // 2
    plain = middle_out(req, max_tokens=budget, max_messages=1000)
    scaled = middle_out(req, max_tokens=budget, max_messages=1000, scale=1.5)
    assert scaled.removed > plain.removed
    assert estimate_prompt_tokens(scaled.request) * 1.5 <= budget


# ---------------------------------------------------------------- through the router

SMALL_WINDOW = """
[providers.echo.models."echo-small"]
context_length = 2000
max_output_tokens = 256

[routes.small]
deployments = ["echo/echo-small"]
"""


async def test_router_refuses_then_middle_out_fits(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, extra_toml=SMALL_WINDOW))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        msgs = conversation(12)
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model="small", messages=msgs)  # type: ignore[arg-type]
        assert info.value.status_code == 400
        body: Any = info.value.response.json()
        assert body["error"] == "context_length_exceeded"
        assert "2000" in body["message"]

        done = await client.chat.completions.create(
            model="small",
            messages=msgs,  # type: ignore[arg-type]
            max_tokens=100,
            extra_body={"transforms": ["middle-out"]},
        )
        assert done.choices[0].message.content == "Now summarise everything."
        assert done.usage is not None
        # the echo upstream counted what it received: far less than the full conversation
        assert done.usage.prompt_tokens < 2000

        stream = await client.chat.completions.create(
            model="small",
            messages=msgs,  # type: ignore[arg-type]
            stream=True,
            extra_body={"transforms": ["middle-out"]},
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "Now summarise everything."
    finally:
        await router.stop()


async def test_unknown_transform_is_refused(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        r = await post_chat(
            router,
            {
                "model": "echo",
                "messages": [{"role": "user", "content": "hi"}],
                "transforms": ["middle-out", "shuffle"],
            },
        )
        assert r.status == 400
        assert r.json() == {
            "error": "invalid_request",
            "message": "Unknown transform 'shuffle' (allowed: 'middle-out') - at `$.transforms[1]`",
        }
    finally:
        await router.stop()


async def test_middle_out_trims_by_message_count(tmp_path: Path) -> None:
    router = await start_router(
        router_settings(tmp_path, extra_toml="\n[guards]\nmax_messages = 4\n")
    )
    try:
        msgs: list[dict[str, str]] = [{"role": "system", "content": "be nice"}]
        for i in range(5):
            msgs += [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        msgs.append({"role": "user", "content": "last"})
        resp = await post_chat(
            router, {"model": "echo", "messages": msgs, "transforms": ["middle-out"]}
        )
        assert resp.status == 200, resp.body
        assert resp.json()["choices"][0]["message"]["content"] == "last"
        resp = await post_chat(router, {"model": "echo", "messages": msgs})
        assert resp.status == 400  # without the opt-in the limit still holds
    finally:
        await router.stop()
