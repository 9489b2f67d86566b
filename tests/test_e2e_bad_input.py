"""Bad input of any kind through the real router: 400 invalid_request with the JSON
error body, never a 500 (issue 15, item 11)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

HEAD = b'{"model":"echo","messages":[{"role":"user","content":'
HI = HEAD + b'"hi"}]'


def schema(levels: int) -> bytes:
    return b'{"type":"object","properties":{"a":' * levels + b"{}" + b"}}" * levels


def response_format(levels: int) -> bytes:
    return (
        b',"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":'
        + schema(levels)
        + b"}}"
    )


NASTY: dict[str, bytes] = {
    "0xff in a string": HEAD + b'"\xff"}]}',
    "overlong slash": HEAD + b'"\xc0\xaf"}]}',
    "encoded surrogate": HEAD + b'"\xed\xa0\x80"}]}',
    "truncated sequence": HEAD + b'"caf\xc3"}]}',
    "lone surrogate escape": HEAD + b'"\\ud800"}]}',
    "schema 1000 deep": HI + response_format(1000) + b"}",
    "schema 1000 deep, streamed": HI + b',"stream":true' + response_format(1000) + b"}",
    "schema 40 deep": HI + response_format(40) + b"}",
    "tool parameters 1000 deep": HI
    + b',"tools":[{"type":"function","function":{"name":"f","parameters":'
    + schema(1000)
    + b"}}]}",
    "unknown field 100k deep": HI + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "NaN": HI + b',"temperature":NaN}',
    "truncated": HI,
    "not an object": b"[1,2,3]",
    "nul bytes": b"\x00" * 64,
    "byte order mark": b"\xef\xbb\xbf" + HI + b"}",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(NASTY))
async def test_nasty_bodies_get_400_invalid_request(router: RunningRouter, name: str) -> None:
    reply = await post_chat(router, NASTY[name])
    assert reply.status == 400, (name, reply.body[:300])
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"error", "message"} and body["error"] == "invalid_request"
    assert isinstance(body["message"], str) and body["message"]


async def test_router_still_serves_after_the_nasty_bodies(router: RunningRouter) -> None:
    for name in sorted(NASTY):
        assert (await post_chat(router, NASTY[name])).status == 400, name
    ok = await post_chat(router, HI + response_format(10) + b"}")
    assert ok.status == 200 and ok.json()["object"] == "chat.completion"
    huge = await post_chat(router, HI + b',"max_tokens":1' + b"0" * 40 + b"}")
    assert huge.status < 500, huge.body[:300]


async def test_admin_api_refuses_invalid_utf8_with_400(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, admin_token="t" * 32))
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                router.url + "/admin/v1/accounts",
                data=b'{"name":"\xff"}',
                headers={"Authorization": "Bearer " + "t" * 32},
            ) as r,
        ):
            assert r.status == 400
            assert (await r.json())["error"] == "invalid_request"
    finally:
        await router.stop()
