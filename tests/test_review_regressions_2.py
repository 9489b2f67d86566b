"""Regressions for defects found in the second review: each failed before its fix."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import openai
import pytest
from aiohttp import web

from router_core.accounts import AccountService
from router_core.dashboard.members import MemberService
from router_core.dashboard.passwords import verify_password
from router_core.store.base import Store
from router_core.store.sqlite import SqliteStore
from tests.router_harness import router_settings, start_router
from tests.services import RedisServer, free_port
from tests.test_dashboard_http import EMAIL, FAST_THROTTLE, Browser, start


async def _revoke_rotate_race(store: Store) -> list[bool]:
    svc = AccountService(store)
    acct = await svc.create_account("a")
    revived = []
    for _ in range(20):
        key, _ = await svc.create_key(acct.id, "k")
        await asyncio.gather(svc.revoke_key(key.id), svc.rotate_key(key.id), return_exceptions=True)
        final = await store.get_key(key.id)
        assert final is not None
        revived.append(final.revoked_at is None)
    return revived


async def test_a_rotate_racing_a_revoke_never_revives_the_key_sqlite(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "race.db"))
    await store.open()
    try:
        assert not any(await _revoke_rotate_race(store))
    finally:
        await store.close()


async def test_a_rotate_racing_a_revoke_never_revives_the_key_redis(
    redis_proc: RedisServer, redis_url: str
) -> None:
    from router_core.store.redis import RedisStore

    store = RedisStore(redis_url)
    await store.open()
    try:
        assert not any(await _revoke_rotate_race(store))
    finally:
        await store.close()


async def test_a_sign_in_does_not_undo_a_password_reset(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        acct = await AccountService(store).create_account("a")
        members = MemberService(store)
        await members.add(acct.id, "a@b.c", "old-password")
        member = await members.check("a@b.c", "old-password")  # the sign-in's check
        assert member is not None
        await members.set_password("a@b.c", "new-password")  # an operator resets meanwhile
        # The sign-in goes on: its session must not stand (login_post ends it).
        assert not await members.signed_in(member, 1.0)
        stored = await store.get_member_by_email("a@b.c")
        assert stored is not None and verify_password("new-password", stored.password_hash)
    finally:
        await store.close()


async def test_parallel_wrong_passwords_are_throttled(tmp_path: Path) -> None:
    router = await start(tmp_path, FAST_THROTTLE)  # 2 free attempts, then a long backoff
    browsers = [Browser(router) for _ in range(12)]
    try:
        forms = [await b.get("/dashboard/login") for b in browsers]
        pages = await asyncio.gather(
            *(
                b.post("/dashboard/login", {"csrf": f.csrf, "email": EMAIL, "password": f"x{i}"})
                for i, (b, f) in enumerate(zip(browsers, forms, strict=True))
            )
        )
        statuses = [p.status for p in pages]
        assert statuses.count(401) <= 3 and statuses.count(429) >= 9
    finally:
        for b in browsers:
            await b.close()
        await router.stop()


async def test_a_far_future_expiry_is_a_form_error(tmp_path: Path) -> None:
    router = await start(tmp_path)
    b = Browser(router)
    try:
        await b.login()
        keys = await b.get("/dashboard/keys")
        page = await b.post(
            "/dashboard/keys", {"csrf": keys.csrf, "name": "x", "expires": "9999-12-31"}
        )
        assert page.status == 400 and "too far in the future" in page.text
    finally:
        await b.close()
        await router.stop()


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    },
}
OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_an_overload_right_after_message_start_still_fails_over(tmp_path: Path) -> None:
    async def upstream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(f"event: message_start\ndata: {json.dumps(MESSAGE_START)}\n\n".encode())
        await asyncio.sleep(0.1)
        await resp.write(f"event: error\ndata: {json.dumps(OVERLOADED)}\n\n".encode())
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", upstream)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    extra = f"""
[providers.anth]
plugin = "anthropic"
settings = {{ base_url = "http://127.0.0.1:{port}", api_key = "k" }}
[providers.anth.models."claude-x"]
[routes.m]
deployments = ["anth/claude-x", "echo/echo-1"]
"""
    router = await start_router(router_settings(tmp_path, extra_toml=extra, retries=0))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert raw.headers["x-viberouter-deployment"] == "echo/echo-1"
        text = ""
        async for chunk in raw.parse():
            for c in chunk.choices:
                text += c.delta.content or ""
        assert text == "hi"
    finally:
        await router.stop()
        await runner.cleanup()


def _events(*payloads: dict[str, Any]) -> list[Any]:
    from router_core.plugin_api import UpstreamEvent

    return [UpstreamEvent(json.dumps(p), p["type"]) for p in payloads]


def test_anthropic_repeated_block_start_gets_its_own_tool_index() -> None:
    from viberouter_anthropic.stream import AnthropicStreamTranslator

    def start_tool(i: int, tid: str) -> dict[str, Any]:
        return {
            "type": "content_block_start",
            "index": i,
            "content_block": {"type": "tool_use", "id": tid, "name": "f", "input": {}},
        }

    t = AnthropicStreamTranslator("m")
    out = []
    for ev in _events(MESSAGE_START, start_tool(0, "a"), start_tool(0, "a2"), start_tool(1, "b")):
        out.extend(t.feed(ev))
    indexes = [tc.index for c in out for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert indexes == [0, 1, 2]


def test_anthropic_stream_without_message_start_is_an_error() -> None:
    from viberouter_anthropic.stream import AnthropicStreamTranslator

    from router_core.errors import ModelError

    t = AnthropicStreamTranslator("m")
    with pytest.raises(ModelError):
        t.feed(_events({"type": "message_stop"})[0])
