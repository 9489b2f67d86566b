"""Every error code reachable through the public API, with the exact body shape."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from router_core.errors import ALL_CODES
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router


async def post(
    router: RunningRouter,
    body: bytes | dict[str, Any],
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Any]:
    reply = await post_chat(router, body, key=key, headers=headers)
    return reply.status, json.loads(reply.body), reply.headers


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert code in ALL_CODES
    assert isinstance(body["message"], str) and body["message"]


OK = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


async def test_malformed_json(router: RunningRouter) -> None:
    status, body, _ = await post(router, b'{"model": "echo", "messages": [')
    assert status == 400
    assert_error(body, "invalid_request")
    assert body["message"].startswith("Malformed JSON")


async def test_empty_body(router: RunningRouter) -> None:
    status, body, _ = await post(router, b"")
    assert status == 400
    assert_error(body, "invalid_request")


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"model": "echo", "messages": [{"role": "user", "content": 5}]}, "$.messages[0].content"),
        ({"model": "echo", "messages": [{"role": "robot", "content": "x"}]}, "$.messages[0].role"),
        ({"model": "echo", "messages": []}, "$.messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({**OK, "temperature": 3}, "$.temperature"),
        (
            {**OK, "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
            "$.tools[0].function.name",
        ),
        ({**OK, "stream_options": {"include_usage": True}}, "$.stream_options"),
        (
            {"model": "echo", "messages": [{"role": "tool", "content": "x"}]},
            "$.messages[0].tool_call_id",
        ),
    ],
)
async def test_wrong_types_name_the_field(
    router: RunningRouter, payload: dict[str, Any], path: str
) -> None:
    status, body, _ = await post(router, payload)
    assert status == 400
    assert_error(body, "invalid_request")
    assert path in body["message"]


async def test_unknown_fields_are_ignored(router: RunningRouter) -> None:
    status, body, _ = await post(router, {**OK, "frobnicate": True, "top_k": 3})
    assert status == 200, body


async def test_unknown_model(router: RunningRouter) -> None:
    status, body, _ = await post(router, {**OK, "model": "gpt-nope"})
    assert status == 400
    assert_error(body, "invalid_model")
    assert "gpt-nope" in body["message"]


async def test_upstream_failure_is_model_error(router: RunningRouter) -> None:
    status, body, _ = await post(
        router,
        {"model": "echo", "messages": [{"role": "user", "content": "[[echo:status=500]] hi"}]},
    )
    assert status == 502
    assert_error(body, "model_error")
    assert "500" not in body["message"]  # upstream detail stays in the log


async def test_mid_stream_error_is_one_event_then_end(router: RunningRouter) -> None:
    h = {"Authorization": f"Bearer {router.key}"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            router.base_url + "/chat/completions",
            headers=h,
            json={
                "model": "echo",
                "stream": True,
                "messages": [{"role": "user", "content": "[[echo:error-midstream]] a b c d e"}],
            },
        ) as r,
    ):
        assert r.status == 200
        text = (await r.read()).decode()
    events = [e for e in text.split("\n\n") if e]
    assert "[DONE]" not in text
    last = events[-1]
    assert last.startswith('data: {"error":"model_error","message":')
    assert any('"content"' in e for e in events[:-1])  # content flowed before the error


async def test_mid_stream_error_raises_in_sdk(openai_client: openai.AsyncOpenAI) -> None:
    stream = await openai_client.chat.completions.create(
        model="echo",
        stream=True,
        messages=[{"role": "user", "content": "[[echo:error-midstream]] a b c"}],
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass


async def test_401_codes_through_the_sdk(router: RunningRouter) -> None:
    state = router.state

    async def code_for(key: str) -> tuple[int, Any]:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=key, max_retries=0)
        with pytest.raises(openai.AuthenticationError) as exc:
            await client.chat.completions.create(**OK)  # type: ignore[call-overload]
        return exc.value.status_code, exc.value.response.json()

    status, body = await code_for("vr-not-a-real-key")
    assert status == 401
    assert_error(body, "invalid_api_key")

    key, secret = await state.accounts.create_key(
        router.account_id, "exp", expires_at=time.time() - 1
    )
    assert_error((await code_for(secret))[1], "expired_api_key")

    key, secret = await state.accounts.create_key(router.account_id, "rev")
    await state.accounts.revoke_key(key.id)
    assert_error((await code_for(secret))[1], "invalid_api_key")

    acct = await state.accounts.create_account("inactive")
    _, secret = await state.accounts.create_key(acct.id, "x")
    await state.accounts.set_status(acct.id, "inactive")
    assert_error((await code_for(secret))[1], "account_not_active")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Bearer    "])
async def test_missing_or_malformed_header(router: RunningRouter, header: str | None) -> None:
    h = {} if header is None else {"Authorization": header}
    async with (
        aiohttp.ClientSession() as s,
        s.post(router.base_url + "/chat/completions", headers=h, json=OK) as r,
    ):
        assert r.status == 401
        assert_error(await r.json(), "invalid_api_key")


async def test_allowed_models_glob(router: RunningRouter) -> None:
    _, secret = await router.state.accounts.create_key(
        router.account_id, "limited", allowed_models=["echo/*"]
    )
    status, body, _ = await post(router, OK, key=secret)
    assert status == 400
    assert_error(body, "invalid_model")
    status, _, _ = await post(router, {**OK, "model": "echo/echo-1"}, key=secret)
    assert status == 200
    async with (
        aiohttp.ClientSession() as s,
        s.get(router.base_url + "/models", headers={"Authorization": f"Bearer {secret}"}) as r,
    ):
        ids = {m["id"] for m in (await r.json())["data"]}
    assert ids == {"echo/echo-1"}


async def test_unknown_path_and_method(router: RunningRouter) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(router.base_url + "/nothing") as r:
            assert r.status == 404
            assert_error(await r.json(), "invalid_request")
        async with s.get(router.base_url + "/chat/completions") as r:
            assert r.status == 405
            assert_error(await r.json(), "invalid_request")


async def test_server_error_hides_internals(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        # break the catalog on purpose: a bug inside the request path
        router.state.catalog.routes["echo"] = object()  # type: ignore[assignment]
        status, body, _ = await post(router, OK)
        assert status == 500
        assert body == {"error": "server_error", "message": "Internal server error"}
    finally:
        await router.stop()
