"""CORS through the real router: off by default, preflights answered for allowed origins,
and allowed origins tagged on JSON, error and streamed answers."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.router_harness import post_chat, router_settings, start_router

CORS = """
[cors]
allow_origins = ["https://app.example.com"]
max_age_s = 120
"""
PREFLIGHT = {
    "Origin": "https://app.example.com",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}
HELLO = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


async def test_off_by_default(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.options(router.base_url + "/chat/completions", headers=PREFLIGHT) as r,
        ):
            assert r.status == 405
            assert "Access-Control-Allow-Origin" not in r.headers
        reply = await post_chat(router, HELLO, headers={"Origin": "https://app.example.com"})
        assert reply.status == 200 and "Access-Control-Allow-Origin" not in reply.headers
    finally:
        await router.stop()


async def test_preflight_and_tagged_answers(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, extra_toml=CORS))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.options(router.base_url + "/chat/completions", headers=PREFLIGHT) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
                assert "POST" in r.headers["Access-Control-Allow-Methods"]
                allowed = r.headers["Access-Control-Allow-Headers"].lower()
                assert "authorization" in allowed and "content-type" in allowed
                assert r.headers["Access-Control-Max-Age"] == "120"
            stranger = {**PREFLIGHT, "Origin": "https://evil.example"}
            async with s.options(router.base_url + "/chat/completions", headers=stranger) as r:
                assert r.status == 204
                assert "Access-Control-Allow-Origin" not in r.headers
        origin = {"Origin": "https://app.example.com"}
        ok = await post_chat(router, HELLO, headers=origin)
        assert ok.status == 200
        assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert "x-should-retry" in ok.headers["Access-Control-Expose-Headers"]
        assert "Origin" in ok.headers.getall("Vary")
        refused = await post_chat(router, HELLO, key="vr-wrong", headers=origin)
        assert refused.status == 401
        assert refused.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        streamed = await post_chat(router, {**HELLO, "stream": True}, headers=origin)
        assert streamed.status == 200 and b"data: [DONE]" in streamed.body
        assert streamed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        other = await post_chat(router, HELLO, headers={"Origin": "https://evil.example"})
        assert other.status == 200 and "Access-Control-Allow-Origin" not in other.headers
    finally:
        await router.stop()


async def test_any_origin(tmp_path: Path) -> None:
    extra = '\n[cors]\nallow_origins = ["*"]\nallow_headers = ["*"]\n'
    router = await start_router(router_settings(tmp_path, extra_toml=extra))
    try:
        asked = {**PREFLIGHT, "Access-Control-Request-Headers": "x-custom-thing"}
        async with (
            aiohttp.ClientSession() as s,
            s.options(router.base_url + "/models", headers=asked) as r,
        ):
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert r.headers["Access-Control-Allow-Headers"] == "x-custom-thing"
    finally:
        await router.stop()
