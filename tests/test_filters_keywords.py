"""Content filters: the built-in keywords filter (unit), the loader, and input,
output and streamed-output filtering through the real router."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from router_core.api.chat import ChatCompletionChunk, ChatRequest, ChunkChoice, Delta
from router_core.dialects.openai_chat import OpenAIChatStream
from router_core.errors import ContentFilter
from router_core.filters import FilterChain, FilterError, KeywordFilter, load_filters
from router_core.guard_settings import GuardSettings, KeywordFilterSettings
from router_core.streaming import StreamOutcome, frame_batch
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router


def kw(**fields: Any) -> KeywordFilter:
    return KeywordFilter(msgspec.convert(fields, KeywordFilterSettings))


def chat(*texts: str) -> ChatRequest:
    return msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": t} for t in texts]}, ChatRequest
    )


def test_input_keywords_whole_words_and_case() -> None:
    f = kw(input_keywords=["Project Falcon"])
    f.check_input(chat("tell me about falconry"))
    with pytest.raises(ContentFilter) as info:
        f.check_input(chat("hello", "what is project FALCON?"))
    assert info.value.code == "content_filter"
    assert info.value.detail == "keywords: input rule matched in messages[1]"
    kw(input_keywords=["falcon"], whole_words=False).check_output("falconry")  # output: no rules
    with pytest.raises(ContentFilter):
        kw(input_keywords=["falcon"], whole_words=False).check_input(chat("falconry"))
    kw(input_keywords=["Falcon"], ignore_case=False).check_input(chat("falcon"))


def test_input_patterns_and_tool_call_arguments() -> None:
    f = kw(input_patterns=[r"\b\d{3}-\d{2}-\d{4}\b"], message="No identity numbers, please")
    req = msgspec.convert(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "look it up"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"id": "123-45-6789"}'},
                        }
                    ],
                },
            ],
        },
        ChatRequest,
    )
    with pytest.raises(ContentFilter, match="No identity numbers"):
        f.check_input(req)


def test_output_window_finds_a_match_split_across_deltas() -> None:
    chain = FilterChain([kw(output_keywords=["secret sauce"])], window=64)
    scanner = chain.scanner()
    assert scanner is not None
    for piece in ["The ", "recipe ", "uses ", "a ", "sec"]:
        scanner.feed(0, piece)
    with pytest.raises(ContentFilter):
        scanner.feed(0, "ret sauce")
    # choices have separate windows
    other = chain.scanner()
    assert other is not None
    other.feed(0, "secret ")
    other.feed(1, "sauce")


def test_no_filters_means_no_scanner() -> None:
    assert load_filters(GuardSettings()).scanner() is None
    assert not load_filters(GuardSettings()).enabled


def test_loader_errors_name_the_problem() -> None:
    with pytest.raises(FilterError, match="'nope', which is not installed"):
        load_filters(GuardSettings(filters=["nope"]))
    bad = GuardSettings(
        filters=["keywords"], keywords=KeywordFilterSettings(output_patterns=["ok", "("])
    )
    with pytest.raises(FilterError, match=r"guards.keywords.output_patterns\[1\]: invalid regex"):
        load_filters(bad)


def test_frames_keep_what_came_before_a_hit() -> None:
    chain = FilterChain([kw(output_keywords=["bad"])], window=16)

    def chunk(text: str) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id="c", created=0, model="m", choices=[ChunkChoice(delta=Delta(content=text))]
        )

    out = StreamOutcome()
    with pytest.raises(ContentFilter):
        frame_batch(
            [chunk("good "), chunk("very "), chunk("bad")],
            OpenAIChatStream(False),
            out,
            chain.scanner(),
        )
    assert out.blocked_frames.count(b"data: ") == 2
    assert b"bad" not in out.blocked_frames


# ---------------------------------------------------------------- through the router

FILTERED = """
[guards]
filters = ["keywords"]

[guards.keywords]
input_keywords = ["forbidden topic"]
output_keywords = ["launch codes"]
output_patterns = ["\\\\bpassword=\\\\S+"]
message = "Blocked by policy"
"""


@pytest.fixture
async def filtered(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    router = await start_router(router_settings(tmp_path, extra_toml=FILTERED))
    try:
        yield router
    finally:
        await router.stop()


async def call(router: RunningRouter, text: str, stream: bool = False) -> tuple[int, bytes]:
    body = {"model": "echo", "stream": stream, "messages": [{"role": "user", "content": text}]}
    reply = await post_chat(router, body)
    return reply.status, reply.body


def events(raw: bytes) -> list[Any]:
    out: list[Any] = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


async def test_input_filter_refuses_before_any_upstream_call(filtered: RunningRouter) -> None:
    status, body = await call(filtered, "let us discuss the Forbidden Topic today")
    assert status == 400
    assert json.loads(body) == {"error": "content_filter", "message": "Blocked by policy"}
    labels = {"provider": "echo", "deployment": "echo/echo-1"}
    calls = "viberouter_upstream_duration_seconds_count"
    registry = filtered.state.metrics.registry
    assert registry.get_sample_value(calls, labels) in (None, 0.0)
    assert (await call(filtered, "a fine topic"))[0] == 200
    assert registry.get_sample_value(calls, labels) == 1.0


async def test_clean_requests_pass(filtered: RunningRouter) -> None:
    status, body = await call(filtered, "what a nice day")
    assert status == 200
    assert json.loads(body)["choices"][0]["message"]["content"] == "what a nice day"
    status, raw = await call(filtered, "what a nice day", stream=True)
    assert status == 200 and events(raw)[-1] == "[DONE]"


async def test_output_filter_refuses_a_whole_answer(filtered: RunningRouter) -> None:
    status, body = await call(filtered, "tell me the launch codes")
    assert status == 400
    assert json.loads(body) == {"error": "content_filter", "message": "Blocked by policy"}


async def test_output_filter_ends_a_stream_with_the_error_event(filtered: RunningRouter) -> None:
    status, raw = await call(filtered, "well here are the launch codes: 0000", stream=True)
    assert status == 200
    evs = events(raw)
    assert evs[-1] == {"error": "content_filter", "message": "Blocked by policy"}
    assert "[DONE]" not in evs
    text = "".join(
        e["choices"][0]["delta"].get("content") or "" for e in evs[:-1] if e.get("choices")
    )
    # the words before the phrase went out; the phrase (split over two deltas) did not
    assert text.startswith("well here are the")
    assert "codes" not in text


async def test_output_pattern_in_a_stream(filtered: RunningRouter) -> None:
    status, raw = await call(filtered, "the config says password=hunter2 ok", stream=True)
    assert status == 200
    evs = events(raw)
    assert evs[-1] == {"error": "content_filter", "message": "Blocked by policy"}
    assert b"hunter2" not in raw
