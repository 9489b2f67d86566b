"""Streams from an OpenAI-compatible upstream to a chat client: the events that need
no fix reach the client byte for byte as the upstream wrote them (contract 2.6); the
ones that do (role, tool-call index, usage, errors, unknown fields, the model rule)
are fixed as before. The real router on loopback, a fake upstream answering recorded
bytes in awkward slices, the official openai SDK and raw frames."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from fake_openai import FAKE_OPENAI, FakeOpenAIConfig, FakeOpenAIState, make_fake_openai

from tests.router_harness import RunningRouter, post_chat, router_settings, serve_app, start_router

_HEAD = (
    '"id":"chatcmpl-as1","object":"chat.completion.chunk","created":1700000000,'
    '"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_as"'
)
_NULL_USAGE = ',"usage":null}'


def _chunk(choices: str, head: str = _HEAD, tail: str = _NULL_USAGE) -> str:
    return "{" + head + ',"choices":' + choices + tail


def _delta(delta: str, finish: str = "null") -> str:
    return f'[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]'


ROLE = _chunk(_delta('{"role":"assistant","content":"","refusal":null}'))
# What the router would never write itself: keys in another order, a space, an
# escaped character (msgspec writes raw UTF-8).
HEL = (
    '{"choices":[{"delta":{"content":"Hel"},"index":0, "finish_reason":null}],'
    + _HEAD
    + _NULL_USAGE
)
LO = _chunk(_delta('{"content":"lo, Ol\\u00e1"}'))
FINISH = _chunk(_delta("{}", '"stop"'))
USAGE = _chunk("[]", tail=',"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}')
PLAIN = [ROLE, HEL, LO, FINISH]


def sse(*datas: str) -> bytes:
    return "".join(f"data: {d}\n\n" for d in datas).encode()


def _padded(datas: list[str], size: int) -> list[str]:
    """Each event ``size`` bytes on the wire (spaces inside the object), so a fake that
    writes ``size`` bytes at a time writes one event per write."""
    return ["{" + " " * (size - len(f"data: {d}\n\n".encode())) + d[1:] for d in datas]


def without_usage(data: str) -> str:
    return data[: -len(_NULL_USAGE)] + "}" if data.endswith(_NULL_USAGE) else data


@dataclass
class World:
    router: RunningRouter
    upstream: FakeOpenAIState

    @property
    def client(self) -> openai.AsyncOpenAI:
        """A fresh SDK client (close it: ``async with w.client as client``)."""
        return openai.AsyncOpenAI(
            base_url=self.router.base_url, api_key=self.router.key, max_retries=0
        )

    async def frames(self, include_usage: bool | None = None, **extra: Any) -> list[str]:
        """The ``data:`` texts of one streamed answer, as the client read them."""
        body: dict[str, Any] = {
            "model": "gpt",
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
            **extra,
        }
        if include_usage is not None:
            body["stream_options"] = {"include_usage": include_usage}
        reply = await post_chat(self.router, body)
        assert reply.status == 200, reply.body
        events = [e for e in reply.body.decode().split("\n\n") if e]
        assert all(e.startswith("data: ") for e in events), events
        return [e[len("data: ") :] for e in events]


@asynccontextmanager
async def world(
    tmp: Path,
    body: bytes,
    *,
    split: int | None = None,
    delay: float = 0.0,
    forward_extensions: bool = False,
    extra_toml: str = "",
) -> AsyncIterator[World]:
    app = make_fake_openai(FakeOpenAIConfig(sse=body, split=split, delay=delay))
    runner, port = await serve_app(app)
    fe = "true" if forward_extensions else "false"
    toml = f"""
[providers.oa]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{port}/v1", api_key = "sk-fake", \
forward_extensions = {fe} }}
[providers.oa.models."gpt-4o"]

[routes.gpt]
deployments = ["oa/gpt-4o"]
{extra_toml}
"""
    router: RunningRouter | None = None
    try:
        router = await start_router(router_settings(tmp, extra_toml=toml))
        yield World(router, app[FAKE_OPENAI])
    finally:
        if router is not None:
            await router.stop()
        await runner.cleanup()


# ------------------------------------------------------------------ byte for byte


@pytest.mark.parametrize("split", [None, 1, 7])
async def test_events_that_need_no_fix_arrive_byte_for_byte(tmp_path: Path, split: int) -> None:
    async with world(tmp_path, sse(*PLAIN, USAGE, "[DONE]"), split=split) as w:
        with_usage = await w.frames(include_usage=True)
        assert with_usage[:4] == PLAIN
        usage = json.loads(with_usage[4])
        assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 12
        assert with_usage[5:] == ["[DONE]"]
        # without usage the trailing "usage":null goes, nothing else changes
        assert await w.frames() == [without_usage(d) for d in PLAIN] + ["[DONE]"]
        await w.router.state.ledger.flush()
        rows = await w.router.state.store.query_usage(key_id=w.router.key_id)
        assert (sum(r.requests for r in rows), sum(r.completion_tokens for r in rows)) == (2, 6)


async def test_the_sdk_reads_a_forwarded_stream(tmp_path: Path) -> None:
    async with world(tmp_path, sse(*PLAIN, USAGE, "[DONE]"), split=5) as w:
        async with w.client as client:
            stream = await client.chat.completions.create(
                model="gpt",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        text, roles, finishes, usages = "", [], [], []
        for chunk in chunks:
            assert chunk.model == "gpt-4o-2024-08-06" and chunk.id == "chatcmpl-as1"
            if chunk.usage is not None:
                usages.append(chunk.usage.total_tokens)
            for c in chunk.choices:
                roles += [c.delta.role] if c.delta.role else []
                text += c.delta.content or ""
                finishes += [c.finish_reason] if c.finish_reason else []
        assert (text, roles, finishes, usages) == ("Hello, Olá", ["assistant"], ["stop"], [12])


async def test_usage_null_is_added_for_a_client_that_asked(tmp_path: Path) -> None:
    bare = [d[: -len(_NULL_USAGE)] + "}" for d in PLAIN]  # an upstream that omits it
    async with world(tmp_path, sse(*bare, USAGE, "[DONE]")) as w:
        frames = await w.frames(include_usage=True)
        assert frames[:4] == [d[:-1] + _NULL_USAGE for d in bare]
        assert await w.frames(include_usage=False) == [*bare, "[DONE]"]


# ------------------------------------------------------------------ fixed


async def test_a_missing_role_is_added(tmp_path: Path) -> None:
    first = _chunk(_delta('{"content":"Hel"}'))
    async with world(tmp_path, sse(first, LO, FINISH, "[DONE]"), split=3) as w:
        frames = await w.frames(include_usage=True)
        assert json.loads(frames[0])["choices"][0]["delta"] == {
            "role": "assistant",
            "content": "Hel",
        }
        assert frames[1:3] == [LO, FINISH]


def _call(index: int, body: str) -> str:
    return _chunk(_delta(f'{{"tool_calls":[{{"index":{index},{body}}}]}}'))


_HEAD_CALL = '"id":"call_A","type":"function","function":{"name":"get_weather","arguments":""}'


@pytest.mark.parametrize("index", [0, 2])
async def test_tool_call_fragments_pass_unless_renumbered(tmp_path: Path, index: int) -> None:
    events = [
        ROLE,
        _call(index, _HEAD_CALL),
        _call(index, '"function":{"arguments":"{\\"city\\":"}'),
        _call(index, '"function":{"arguments":"\\"Oslo\\"}"}'),
        _chunk(_delta("{}", '"tool_calls"')),
    ]
    async with world(tmp_path, sse(*events, USAGE, "[DONE]"), split=11) as w:
        frames = await w.frames(include_usage=True)
        if index == 0:
            assert frames[:5] == events
        else:  # the client sees the call at 0, fragments included
            assert frames[0] == ROLE and frames[4] == events[4]
            for frame in frames[1:4]:
                (call,) = json.loads(frame)["choices"][0]["delta"]["tool_calls"]
                assert call["index"] == 0
        async with w.client as client:
            stream = await client.chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "weather?"}], stream=True
            )
            chunks = [chunk async for chunk in stream]
        args, ids, finish = "", set(), None
        for chunk in chunks:
            for c in chunk.choices:
                for tc in c.delta.tool_calls or []:
                    assert tc.index == 0
                    ids |= {tc.id} if tc.id else set()
                    args += tc.function.arguments or "" if tc.function else ""
                finish = c.finish_reason or finish
        assert (json.loads(args), ids, finish) == ({"city": "Oslo"}, {"call_A"}, "tool_calls")


async def test_an_in_band_error_ends_the_stream_after_the_forwarded_events(
    tmp_path: Path,
) -> None:
    error = '{"error":{"message":"The server is overloaded","type":"server_error","code":null}}'
    events = _padded([ROLE, HEL, error], 400)  # one event per write, 50 ms apart
    async with world(tmp_path, sse(*events), split=400, delay=0.05) as w:
        frames = await w.frames(include_usage=True)
        assert frames[:2] == events[:2]
        assert len(frames) == 3 and json.loads(frames[2])["error"] == "model_error"
        async with w.client as client:
            stream = await client.chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            with pytest.raises(openai.APIError):
                async for _ in stream:
                    pass


_OBFUSCATED = [d[:-1] + ',"obfuscation":"a1b2"}' for d in PLAIN]


def _canonical(data: str) -> Any:
    doc = json.loads(data)
    doc.pop("obfuscation", None)
    for choice in doc["choices"]:
        choice.setdefault("logprobs", None)
    return doc


async def test_unknown_fields_are_removed_without_forward_extensions(tmp_path: Path) -> None:
    async with world(tmp_path, sse(*_OBFUSCATED, "[DONE]")) as w:
        frames = await w.frames(include_usage=True)
        assert len(frames) == 5
        for frame, sent in zip(frames[:4], _OBFUSCATED, strict=True):
            assert "obfuscation" not in frame
            assert json.loads(frame) == _canonical(sent)


async def test_unknown_fields_are_forwarded_with_forward_extensions(tmp_path: Path) -> None:
    async with world(tmp_path, sse(*_OBFUSCATED, "[DONE]"), forward_extensions=True) as w:
        assert (await w.frames(include_usage=True))[:4] == _OBFUSCATED
        # OpenAI's own layout: "usage":null before the unknown field, cut from the middle
        cut = [d.replace(',"usage":null', "") for d in _OBFUSCATED]
        assert (await w.frames())[:4] == cut


async def test_the_first_model_name_stays(tmp_path: Path) -> None:
    other = _chunk(_delta('{"content":"!"}'), head=_HEAD.replace("gpt-4o-2024-08-06", "gpt-x"))
    async with world(tmp_path, sse(ROLE, HEL, other, FINISH, "[DONE]")) as w:
        frames = await w.frames(include_usage=True)
        assert frames[:2] == [ROLE, HEL] and frames[3] == FINISH
        assert json.loads(frames[2])["model"] == "gpt-4o-2024-08-06"


async def test_output_filters_read_forwarded_events(tmp_path: Path) -> None:
    guard = (
        '[guards]\nfilters = ["keywords"]\n[guards.keywords]\noutput_keywords = ["launch codes"]'
    )
    parts = [
        _chunk(_delta(f'{{"content":"{t}"}}'), tail="}") for t in ("the ", "launch ", "codes ")
    ]
    events = _padded([_chunk(_delta('{"role":"assistant","content":""}'), tail="}"), *parts], 400)
    body = sse(*events, _chunk(_delta("{}", '"stop"'), tail="}"), "[DONE]")
    async with world(tmp_path, body, split=400, delay=0.05, extra_toml=guard) as w:
        # the hit comes after the commit: what came before as it came, then the error
        frames = await w.frames()
        assert frames[:3] == events[:3]
        assert json.loads(frames[3])["error"] == "content_filter" and len(frames) == 4
