"""The ``[[echo:...]]`` directives that make the fake upstream fail on purpose."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest
from viberouter_echo import EchoProvider

from router_core.plugin_api import (
    ChatRequest,
    ModelError,
    RouterError,
    UpstreamEvent,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from router_core.plugin_testing import decode_request, deployment_for, read_body, split_events


def _req(echo_data: Path, directive: str, *, stream: bool = True) -> ChatRequest:
    raw = (echo_data / "echo_request_directive.json").read_bytes()
    raw = raw.replace(b"DIRECTIVE", directive.encode())
    return msgspec.structs.replace(decode_request(raw), stream=stream)


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (400, "invalid_request_error", RouterError),
        (429, "requests", UpstreamRateLimited),
        (500, "server_error", ModelError),
        (504, "server_error", UpstreamTimeout),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_echo_status_directive(
    echo_data: Path, status: int, error_type: str, expected: type[RouterError], stream: bool
) -> None:
    provider = EchoProvider()
    req = _req(echo_data, f"[[echo:status={status}]]", stream=stream)
    response = provider.serve_local(provider.build_request(req, deployment_for(provider)))
    assert response.status == status
    body = await read_body(response)
    doc = json.loads(body)
    assert doc["error"]["type"] == error_type
    assert f"[[echo:status={status}]]" in doc["error"]["message"]
    error = provider.map_error(response.status, response.headers, body)
    assert type(error) is expected or (expected is RouterError and error.code == "invalid_request")
    assert doc["error"]["message"] in (error.detail or "")
    if status == 429:
        assert error.retry_after == 1.0


async def test_echo_error_midstream_directive(echo_data: Path) -> None:
    provider = EchoProvider()
    req = _req(echo_data, "[[echo:error-midstream]]")
    dep = deployment_for(provider)
    response = provider.serve_local(provider.build_request(req, dep))
    assert response.status == 200
    events = split_events(await read_body(response))
    assert json.loads(events[-1].data)["error"]["type"] == "server_error"
    assert all(e.data != "[DONE]" for e in events)
    translator = provider.stream_translator(req, dep)
    contents = []
    for event in events[:-1]:
        for chunk in translator.feed(event):
            contents.append(chunk.choices[0].delta.content)
    assert contents == ["", "one ", "two ", "three "]
    with pytest.raises(ModelError) as caught:
        translator.feed(events[-1])
    assert "failed mid-stream" in (caught.value.detail or "")


async def test_echo_error_midstream_without_streaming_is_a_500(echo_data: Path) -> None:
    provider = EchoProvider()
    req = _req(echo_data, "[[echo:error-midstream]]", stream=False)
    response = provider.serve_local(provider.build_request(req, deployment_for(provider)))
    assert response.status == 500


@pytest.mark.parametrize("stream", [True, False])
async def test_echo_hang_directive_never_answers(echo_data: Path, stream: bool) -> None:
    provider = EchoProvider()
    req = _req(echo_data, "[[echo:hang]]", stream=stream)
    response = provider.serve_local(provider.build_request(req, deployment_for(provider)))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(read_body(response), timeout=0.2)


def test_echo_translator_rejects_a_stream_without_finish() -> None:
    translator = EchoProvider().stream_translator(
        decode_request(b'{"model":"m","messages":[{"role":"user","content":"x"}]}'),
        deployment_for(EchoProvider()),
    )
    chunk = (
        '{"id":"c","object":"chat.completion.chunk","created":1,"model":"echo-1",'
        '"choices":[{"index":0,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}'
    )
    assert len(translator.feed(UpstreamEvent(chunk))) == 1
    assert translator.feed(UpstreamEvent("[DONE]")) == []
    with pytest.raises(ModelError):
        translator.close()


def test_echo_translator_rejects_garbage() -> None:
    translator = EchoProvider().stream_translator(
        decode_request(b'{"model":"m","messages":[{"role":"user","content":"x"}]}'),
        deployment_for(EchoProvider()),
    )
    with pytest.raises(ModelError) as caught:
        translator.feed(UpstreamEvent('{"not":"a chunk"}'))
    assert caught.value.message == "The model provider sent a malformed chunk"
