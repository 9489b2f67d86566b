"""Request building: exact bodies and headers."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from viberouter_openai import OpenAIExtras, OpenAIProvider, OpenAISettings

from router_core.plugin_testing import decode_request, deployment

DEP = deployment("gpt-4o", provider="openai")


def _provider(**settings: object) -> OpenAIProvider:
    return OpenAIProvider(msgspec.convert(settings, OpenAISettings))


def test_openai_request_streaming_with_tools(openai_data: Path) -> None:
    provider = _provider(api_key="sk-test", base_url="http://127.0.0.1:9/v1/")
    req = decode_request((openai_data / "openai_request_tools.json").read_bytes())
    built = provider.build_request(req, deployment("gpt-4o"))
    assert (built.method, built.url, built.framing) == (
        "POST",
        "http://127.0.0.1:9/v1/chat/completions",
        "sse",
    )
    assert built.body == (openai_data / "openai_request_tools.body.json").read_bytes()
    assert dict(built.headers) == {
        "Content-Type": "application/json",
        "Accept": "text/event-stream",
        "Authorization": "Bearer sk-test",
    }


def test_openai_request_non_stream_strips_stream_options_and_adds_extras(
    openai_data: Path,
) -> None:
    raw = (openai_data / "openai_request_plain.json").read_bytes()
    extras = msgspec.json.decode(raw, type=OpenAIExtras)
    built = _provider().build_request(decode_request(raw), deployment("gpt-4o"), extras=extras)
    assert built.framing == "json"
    assert built.body == (openai_data / "openai_request_plain.body.json").read_bytes()
    assert "Authorization" not in built.headers
    assert built.headers["Accept"] == "application/json"


def test_openai_request_stream_always_asks_for_usage() -> None:
    raw = b'{"model":"x","messages":[{"role":"user","content":"hi"}],"stream":true}'
    body = json.loads(_provider().build_request(decode_request(raw), deployment("m")).body)
    assert body["stream_options"] == {"include_usage": True}
    raw = raw[:-1] + b',"stream_options":{"include_usage":false}}'
    body = json.loads(_provider().build_request(decode_request(raw), deployment("m")).body)
    assert body["stream_options"] == {"include_usage": True}


def test_openai_request_unset_extras_are_not_forwarded() -> None:
    raw = b'{"model":"x","messages":[{"role":"user","content":"hi"}]}'
    extras = OpenAIExtras(repetition_penalty=1.1)
    body = json.loads(_provider().build_request(decode_request(raw), DEP, extras=extras).body)
    assert body == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "repetition_penalty": 1.1,
    }


def test_openai_request_headers_organisation_project_and_custom() -> None:
    provider = _provider(
        api_key="sk-1",
        organization="org-1",
        project="proj-1",
        headers={"HTTP-Referer": "https://example.org", "Accept": "*/*"},
    )
    raw = b'{"model":"x","messages":[{"role":"user","content":"hi"}]}'
    headers = dict(provider.build_request(decode_request(raw), DEP).headers)
    assert headers == {
        "Content-Type": "application/json",
        "Accept": "*/*",
        "Authorization": "Bearer sk-1",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "proj-1",
        "HTTP-Referer": "https://example.org",
    }
