"""Accounts and keys through the admin API, the CLI and two router processes."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from router_core.cli import main
from tests.router_harness import router_settings, start_router
from tests.router_process import start_router_process
from tests.services import RedisServer

ADMIN = "admin-token-for-tests"


async def admin(
    router_url: str,
    method: str,
    path: str,
    token: str | None = ADMIN,
    body: dict[str, Any] | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, router_url + "/admin/v1" + path, headers=headers, json=body) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_admin_api_off_without_token(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        status, body = await admin(router.url, "GET", "/accounts")
        assert status == 404
        assert body["error"] == "invalid_request"
    finally:
        await router.stop()


async def test_admin_api_lifecycle(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, admin_token=ADMIN), create_key=False)
    try:
        for token in (None, "wrong", router.key or "vr-client-key"):
            status, body = await admin(router.url, "GET", "/accounts", token=token)
            assert status == 401 and body["error"] == "invalid_api_key"

        status, acct = await admin(router.url, "POST", "/accounts", body={"name": "a1", "rpm": 100})
        assert status == 201 and acct["rpm"] == 100
        status, body = await admin(router.url, "POST", "/accounts", body={"nme": "typo"})
        assert status == 400 and "nme" in body["message"]
        status, created = await admin(
            router.url, "POST", "/keys", body={"account_id": acct["id"], "name": "k1"}
        )
        assert status == 201
        secret = created["secret"]

        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=secret, max_retries=0)
        resp = await client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "via admin key"}]
        )
        assert resp.choices[0].message.content == "via admin key"

        status, keys = await admin(router.url, "GET", f"/keys?account={acct['id']}")
        assert status == 200 and [k["id"] for k in keys["data"]] == [created["key"]["id"]]
        assert secret not in json.dumps(keys) and "hash" not in json.dumps(keys)
        status, usage = await admin(router.url, "GET", f"/usage?account={acct['id']}")
        assert status == 200 and usage["data"][0]["requests"] == 1
        status, keys = await admin(router.url, "GET", f"/keys/{created['key']['id']}")
        assert keys["last_used_at"] is not None  # flushed by the usage query

        status, revoked = await admin(router.url, "POST", f"/keys/{created['key']['id']}/revoke")
        assert status == 200 and revoked["status"] == "revoked"
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "again"}]
            )

        status, body = await admin(router.url, "POST", "/keys/key_missing/revoke")
        assert status == 404 and body["error"] == "invalid_request"
        status, acct2 = await admin(
            router.url, "PATCH", f"/accounts/{acct['id']}", body={"status": "inactive", "tpm": 5000}
        )
        assert status == 200 and acct2["status"] == "inactive" and acct2["tpm"] == 5000
    finally:
        await router.stop()


async def test_usage_totals_after_concurrent_burst(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)

        async def one(i: int) -> int:
            if i % 2:
                stream = await client.chat.completions.create(
                    model="echo",
                    stream=True,
                    stream_options={"include_usage": True},
                    messages=[{"role": "user", "content": "word " * (i % 7 + 1)}],
                )
                total = 0
                async for chunk in stream:
                    if chunk.usage:
                        total = chunk.usage.total_tokens
                return total
            resp = await client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "word " * (i % 5 + 1)}]
            )
            assert resp.usage is not None
            return resp.usage.total_tokens

        totals = await asyncio.gather(*(one(i) for i in range(60)))
        await router.state.ledger.flush()
        rows = await router.state.store.query_usage(account_id=router.account_id)
        assert sum(r.requests for r in rows) == 60
        assert sum(r.prompt_tokens + r.completion_tokens for r in rows) == sum(totals)
    finally:
        await router.stop()


def redis_config(tmp: Path, url: str) -> Path:
    cfg = tmp / "redis.toml"
    cfg.write_text(
        f"""
[state]
backend = "redis"
redis_url = "{url}"

[auth]
cache_ttl_s = 1.0
bootstrap_demo_key = false

[logging]
format = "json"

[providers.echo]
plugin = "echo"

[routes.echo]
deployments = ["echo/echo-1"]
"""
    )
    return cfg


def cli_json(cfg: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(["--config", str(cfg), *argv, "--json"], environ={}) == 0
    return json.loads(capsys.readouterr().out)


def test_two_processes_share_keys_and_revocations(
    tmp_path: Path, redis_proc: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import redis

    redis_proc.start()
    redis.Redis.from_url(redis_proc.url).flushall()
    cfg = redis_config(tmp_path, redis_proc.url)
    acct = cli_json(cfg, capsys, "accounts", "create", "shared")
    secret = cli_json(cfg, capsys, "keys", "create", acct["id"])["secret"]
    routers = [start_router_process(cfg, tmp_path), start_router_process(cfg, tmp_path)]
    try:
        clients = [
            openai.OpenAI(base_url=r.base_url, api_key=secret, max_retries=0) for r in routers
        ]
        for c in clients:
            assert (
                c.chat.completions.create(
                    model="echo", messages=[{"role": "user", "content": "hi"}]
                )
                .choices[0]
                .message.content
                == "hi"
            )
        # a key created after start-up is seen by both processes at once (no negative cache hit)
        fresh = cli_json(cfg, capsys, "keys", "create", acct["id"])["secret"]
        for r in routers:
            c = openai.OpenAI(base_url=r.base_url, api_key=fresh, max_retries=0)
            c.models.list()
        cli_json(cfg, capsys, "keys", "revoke", cli_json(cfg, capsys, "keys", "list")[0]["id"])
        deadline = time.monotonic() + 5
        refused = [False, False]
        while time.monotonic() < deadline and not all(refused):
            for i, c in enumerate(clients):
                try:
                    c.models.list()
                except openai.AuthenticationError:
                    refused[i] = True
            time.sleep(0.1)
        assert refused == [True, True]
        # usage from both processes lands in one ledger
        time.sleep(1.5)
        rows = cli_json(cfg, capsys, "usage", "--account", acct["id"])
        assert sum(r["requests"] for r in rows) == 2
    finally:
        for r in routers:
            r.stop()
    for r in routers:
        log = r.output()
        assert secret not in log and fresh not in log
        assert "request" in log  # the access log did run
