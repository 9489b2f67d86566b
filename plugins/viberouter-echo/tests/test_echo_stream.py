"""The echo provider end to end in-process: build_request -> serve_local -> translator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import msgspec
from viberouter_echo import EchoProvider, EchoSettings

from router_core.plugin_api import ChatCompletionChunk, FunctionDelta, Usage, json_encode
from router_core.plugin_testing import (
    as_lines,
    check_model_rule,
    check_stream,
    decode_request,
    deployment_for,
    normalised,
    read_body,
    split_events,
    translate,
)


async def _stream(provider: EchoProvider, raw: bytes) -> list[ChatCompletionChunk]:
    req = decode_request(raw)
    dep = deployment_for(provider)
    upstream = provider.build_request(req, dep)
    response = provider.serve_local(upstream)
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    body = await read_body(response)
    assert body.endswith(b"data: [DONE]\n\n")
    return translate(provider.stream_translator(req, dep), body)


async def test_echo_stream_text_matches_fixture(echo_data: Path) -> None:
    chunks = await _stream(EchoProvider(), (echo_data / "echo_request_text.json").read_bytes())
    expected = (echo_data / "echo_stream_text.expected.jsonl").read_text("utf-8")
    assert as_lines(normalised(chunks)) == expected


async def test_echo_stream_deltas_concatenate_and_usage_is_last(echo_data: Path) -> None:
    chunks = await _stream(EchoProvider(), (echo_data / "echo_request_text.json").read_bytes())
    text = "".join(
        c.choices[0].delta.content
        for c in chunks
        if c.choices and isinstance(c.choices[0].delta.content, str)
    )
    assert text == "Hello there,\nOlá  world!"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks[:-1]].count("stop") == 1
    last = chunks[-1]
    assert last.choices == []
    assert isinstance(last.usage, Usage)
    assert last.usage.completion_tokens == 4
    assert last.usage.total_tokens == last.usage.prompt_tokens + 4
    assert len({c.id for c in chunks}) == 1


async def test_echo_non_stream_matches_the_stream(echo_data: Path) -> None:
    provider = EchoProvider()
    raw = (echo_data / "echo_request_text.json").read_bytes()
    req = msgspec.structs.replace(decode_request(raw), stream=False, stream_options=None)
    dep = deployment_for(provider)
    upstream = provider.build_request(req, dep)
    assert upstream.framing == "json"
    response = provider.serve_local(upstream)
    assert response.headers["content-type"] == "application/json"
    completion = provider.parse_response(req, dep, await read_body(response))
    doc = json.loads(json_encode(msgspec.structs.replace(completion, id="x", created=0)))
    assert doc == json.loads((echo_data / "echo_completion_text.expected.json").read_bytes())


async def test_echo_stream_tool_call_matches_fixture(echo_data: Path) -> None:
    chunks = await _stream(EchoProvider(), (echo_data / "echo_request_tools.json").read_bytes())
    expected = (echo_data / "echo_stream_tools.expected.jsonl").read_text("utf-8")
    assert as_lines(normalised(chunks)) == expected


async def test_echo_stream_tool_call_arguments_are_fragmented_json(echo_data: Path) -> None:
    chunks = await _stream(EchoProvider(), (echo_data / "echo_request_tools.json").read_bytes())
    deltas = [
        d
        for c in chunks
        if c.choices and isinstance(c.choices[0].delta.tool_calls, list)
        for d in c.choices[0].delta.tool_calls
    ]
    head = deltas[0]
    assert (head.index, head.type) == (0, "function")
    assert isinstance(head.function, FunctionDelta)
    assert (head.function.name, head.function.arguments) == ("get_weather", "")
    assert isinstance(head.id, str) and head.id.startswith("call_")
    fragments = [d.function.arguments for d in deltas[1:] if isinstance(d.function, FunctionDelta)]
    assert len(fragments) >= 3
    joined = "".join(a for a in fragments if isinstance(a, str))
    assert json.loads(joined) == {"city": "Oslo", "unit": "celsius", "days": 1}
    finish = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finish[-1] == "tool_calls"
    first = chunks[0].choices[0].delta
    assert first.content is None and first.role == "assistant"


async def test_echo_stream_n_choices_are_interleaved() -> None:
    raw = b'{"model":"m","messages":[{"role":"user","content":"a b"}],"stream":true,"n":2}'
    chunks = await _stream(EchoProvider(), raw)
    indexes = [c.choices[0].index for c in chunks if c.choices]
    assert indexes == [0, 1, 0, 1, 0, 1, 0, 1]
    assert chunks[-1].usage is not None and not isinstance(chunks[-1].usage, msgspec.UnsetType)
    assert chunks[-1].usage.completion_tokens == 4


async def test_echo_delay_paces_the_stream() -> None:
    provider = EchoProvider(EchoSettings(delay_ms=30))
    raw = b'{"model":"m","messages":[{"role":"user","content":"a b c"}],"stream":true}'
    req = decode_request(raw)
    response = provider.serve_local(provider.build_request(req, deployment_for(provider)))
    started = time.monotonic()
    pieces = [piece async for piece in response.body]
    elapsed = time.monotonic() - started
    # role, 3 tokens, finish, usage: 5 pauses between 6 chunks
    assert elapsed >= 5 * 0.030
    assert len(split_events(b"".join(pieces))) == 7


async def test_echo_stream_survives_every_slicing(echo_data: Path) -> None:
    # through the core's framing and loop: whole, cut at every byte, byte by byte
    provider = EchoProvider()
    req = decode_request(echo_data / "echo_request_tools.json")
    dep = deployment_for(provider)
    body = await read_body(provider.serve_local(provider.build_request(req, dep)))
    chunks = check_stream(lambda: provider.stream_translator(req, dep), body)
    expected = (echo_data / "echo_stream_tools.expected.jsonl").read_text("utf-8")
    assert as_lines(normalised(chunks)) == expected


async def test_echo_follows_the_model_rule(echo_data: Path) -> None:
    # the client asked for a route alias; the answer names the model that served it
    provider = EchoProvider()
    raw = decode_request(echo_data / "echo_request_text.json")
    dep = deployment_for(provider)
    for stream in (True, False):
        req = msgspec.structs.replace(raw, model="my-alias", stream=stream)
        response = provider.serve_local(provider.build_request(req, dep))
        body = await read_body(response)
        if stream:
            answer: Any = translate(provider.stream_translator(req, dep), body)
        else:
            answer = provider.parse_response(req, dep, body)
        check_model_rule(answer, dep, upstream_model=None)
