"""Canonical request -> Reverse API request, byte for byte; refusals name the field."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from router_core.plugin_api import InvalidRequest
from router_core.plugin_testing import decode_request, deployment

from viberouter_reverse import ReverseExtras, ReverseProvider, ReverseSettings

PROVIDER = ReverseProvider(ReverseSettings(base_url="http://127.0.0.1:9090/", api_key="rk-test"))

DEPLOYMENT = deployment("reverse-1", provider="rev")


def test_plain_request_body_is_byte_exact(data: Path) -> None:
    upstream = PROVIDER.build_request(
        decode_request((data / "request_plain.json").read_bytes()), DEPLOYMENT
    )
    assert upstream.method == "POST"
    assert upstream.url == "http://127.0.0.1:9090/v1/reverse"
    assert upstream.framing == "json"
    assert upstream.headers == {"content-type": "application/json", "x-api-key": "rk-test"}
    assert upstream.body + b"\n" == (data / "request_plain.reverse.json").read_bytes()


def test_stream_request_maps_roles_parts_and_the_extra(data: Path) -> None:
    raw = (data / "request_stream.json").read_bytes()
    extras = msgspec.json.decode(raw, type=ReverseExtras)  # what the core does per request
    upstream = PROVIDER.build_request(decode_request(raw), DEPLOYMENT, extras=extras)
    assert upstream.framing == "ndjson"
    assert upstream.headers["accept"] == "application/x-ndjson"
    assert upstream.body + b"\n" == (data / "request_stream.reverse.json").read_bytes()


def test_no_key_no_header() -> None:
    provider = ReverseProvider(ReverseSettings())
    body = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
    upstream = provider.build_request(decode_request(body), DEPLOYMENT)
    assert "x-api-key" not in upstream.headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            b'{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":'
            b'[{"type":"function","function":{"name":"f"}}]}',
            "tools",
        ),
        (b'{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}', "n"),
        (
            b'{"model":"m","messages":[{"role":"user","content":[{"type":"image_url",'
            b'"image_url":{"url":"https://example.com/a.png"}}]}]}',
            "messages[0].content",
        ),
        (
            b'{"model":"m","messages":[{"role":"user","content":"hi"},'
            b'{"role":"tool","tool_call_id":"c1","content":"x"}]}',
            "messages[1].role",
        ),
    ],
)
def test_refuses_what_the_api_cannot_do(body: bytes, field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        PROVIDER.build_request(decode_request(body), DEPLOYMENT)
    assert info.value.message.startswith(field + ":")


def test_tools_with_tool_choice_none_are_fine() -> None:
    body = (
        b'{"model":"m","tool_choice":"none","messages":[{"role":"user","content":"hi"}],'
        b'"tools":[{"type":"function","function":{"name":"f"}}]}'
    )
    assert PROVIDER.build_request(decode_request(body), DEPLOYMENT).body.startswith(b'{"model"')


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(msgspec.ValidationError, match="base_urll"):
        msgspec.convert({"base_urll": "http://x"}, ReverseSettings)
