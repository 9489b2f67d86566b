"""Rate limits and quotas through the real router and real clients."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from router_core.limits.base import Limits, RateLimits
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router
from tests.router_process import run_cli, start_router_process
from tests.services import RedisServer

MSG = [{"role": "user", "content": "hi"}]


async def call(
    router: RunningRouter, key: str, body: dict[str, Any] | None = None
) -> tuple[int, Any, Any]:
    reply = await post_chat(router, body or {"model": "echo", "messages": MSG}, key=key)
    return reply.status, reply.headers, reply.body


@pytest.fixture(params=["embedded", "redis"])
async def limited_router(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "redis":
        import redis

        server = request.getfixturevalue("redis_proc")
        server.start()
        redis.Redis.from_url(server.url).flushall()
        settings = router_settings(tmp_path, backend="redis", redis_url=server.url)
    else:
        settings = router_settings(tmp_path)
    router = await start_router(settings, create_key=False)
    yield router
    await router.stop()


async def test_rpm_exact_in_a_burst(limited_router: RunningRouter) -> None:
    r = limited_router
    acct = await r.state.accounts.create_account("burst")
    _, key = await r.state.accounts.create_key(acct.id, "k", limits=RateLimits(rpm=7))
    results = await asyncio.gather(*(call(r, key) for _ in range(12)))
    statuses = sorted(s for s, _, _ in results)
    assert statuses == [200] * 7 + [429] * 5
    for status, headers, body in results:
        assert headers["X-RateLimit-Limit"] == "7"
        assert headers["x-ratelimit-limit-requests"] == "7"
        if status == 429:
            assert body.startswith(b'{"error":"rate_limit_exceeded"')
            assert int(headers["Retry-After"]) >= 1
            assert int(headers["retry-after-ms"]) >= 1
            assert headers["x-should-retry"] == "true"  # waiting for the window helps
        else:
            assert int(headers["X-RateLimit-Remaining"]) in range(7)
            assert int(headers["X-RateLimit-Reset"]) >= int(time.time())
            assert headers["x-ratelimit-reset-requests"].endswith("s")


async def test_headers_on_streams(limited_router: RunningRouter) -> None:
    r = limited_router
    acct = await r.state.accounts.create_account("s")
    _, key = await r.state.accounts.create_key(acct.id, "k", limits=RateLimits(rpm=100, tpm=100000))
    status, headers, body = await call(r, key, {"model": "echo", "stream": True, "messages": MSG})
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert headers["x-ratelimit-limit-requests"] == "100"
    assert headers["x-ratelimit-remaining-requests"] == "99"
    assert headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(headers["x-ratelimit-remaining-tokens"]) < 100000


async def test_tpm_reservation_is_settled_to_actual_usage(limited_router: RunningRouter) -> None:
    r = limited_router
    acct = await r.state.accounts.create_account("t")
    _, key = await r.state.accounts.create_key(acct.id, "k", limits=RateLimits(tpm=1000))
    big = {"model": "echo", "max_tokens": 900, "messages": MSG}
    # each reserves ~900 tokens but uses ~10: without settlement the second would fail
    for _ in range(3):
        status, _, body = await call(r, key, big)
        assert status == 200, body
    too_big = {"model": "echo", "max_tokens": 1200, "messages": MSG}
    status, _, body = await call(r, key, too_big)
    assert status == 429 and b"rate_limit_exceeded" in body


async def test_abandoned_stream_gives_tokens_back(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, delay_ms=30), create_key=False)
    try:
        acct = await router.state.accounts.create_account("a")
        _, key = await router.state.accounts.create_key(
            acct.id, "k", limits=RateLimits(tpm=1000, concurrency=1)
        )
        body = {
            "model": "echo",
            "max_tokens": 900,
            "stream": True,
            "messages": [{"role": "user", "content": "w " * 50}],
        }
        session = aiohttp.ClientSession()
        resp = await session.post(
            router.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert resp.status == 200
        await resp.content.readuntil(b"\n\n")
        resp.close()
        await session.close()
        for _ in range(100):
            if router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0:
                break
            await asyncio.sleep(0.02)
        status, _, text = await call(router, key, {**body, "stream": False})
        assert status == 200, text  # slot released and tokens given back
    finally:
        await router.stop()


async def test_concurrency_limit(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, delay_ms=40), create_key=False)
    try:
        acct = await router.state.accounts.create_account("c")
        _, key = await router.state.accounts.create_key(
            acct.id, "k", limits=RateLimits(concurrency=2)
        )
        body = {"model": "echo", "messages": [{"role": "user", "content": "a b c d e f"}]}
        results = await asyncio.gather(*(call(router, key, body) for _ in range(5)))
        statuses = sorted(s for s, _, _ in results)
        assert statuses == [200, 200, 429, 429, 429]
        assert all(b"concurrent_requests" in b for s, _, b in results if s == 429)
    finally:
        await router.stop()


async def test_quota_exceeded_is_not_retryable(limited_router: RunningRouter) -> None:
    r = limited_router
    acct = await r.state.accounts.create_account("q", Limits(quota_tokens=20))
    _, key = await r.state.accounts.create_key(acct.id, "k")
    body = {"model": "echo", "messages": [{"role": "user", "content": "one two three four five"}]}
    seen = []
    for _ in range(10):
        status, headers, text = await call(r, key, body)
        seen.append(status)
        if status == 429:
            assert text.startswith(b'{"error":"quota_exceeded"')
            assert headers["x-should-retry"] == "false"
            assert int(headers["Retry-After"]) > 0  # the end of the period
            break
    assert seen[0] == 200 and seen[-1] == 429


async def test_zero_means_blocked(limited_router: RunningRouter) -> None:
    r = limited_router
    acct = await r.state.accounts.create_account("z", Limits(rpm=0))
    _, key = await r.state.accounts.create_key(acct.id, "k")
    status, _, body = await call(r, key)
    assert status == 429 and b"rate_limit_exceeded" in body
    _, key2 = await r.state.accounts.create_key(
        acct.id, "k2", limits=RateLimits(rpm=5)
    )  # key overrides account
    status, _, _ = await call(r, key2)
    assert status == 200


async def test_many_streams_half_abandoned_release_everything(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, delay_ms=10), create_key=False)
    try:
        acct = await router.state.accounts.create_account("many")
        _, key = await router.state.accounts.create_key(
            acct.id, "k", limits=RateLimits(concurrency=200)
        )
        body = {
            "model": "echo",
            "stream": True,
            "messages": [{"role": "user", "content": "x " * 20}],
        }
        headers = {"Authorization": f"Bearer {key}"}
        conn = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn) as s:

            async def one(i: int) -> bool:
                resp = await s.post(
                    router.base_url + "/chat/completions", json=body, headers=headers
                )
                assert resp.status == 200
                if i % 2:
                    await resp.content.readuntil(b"\n\n")
                    await resp.content.readuntil(b"\n\n")
                    resp.close()  # abandoned midway
                    return False
                data = await resp.read()
                return data.endswith(b"data: [DONE]\n\n")

            done = await asyncio.gather(*(one(i) for i in range(200)))
        assert sum(done) == 100
        for _ in range(200):
            if router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0:
                break
            await asyncio.sleep(0.02)
        assert router.state.metrics.registry.get_sample_value("viberouter_in_flight_requests") == 0
        assert router.state.metrics.registry.get_sample_value("viberouter_open_streams") == 0
        # every concurrency slot came back: 200 more at once still pass
        statuses = [
            s
            for s, _, _ in await asyncio.gather(
                *(call(router, key, {**body, "stream": False}) for _ in range(200))
            )
        ]
        assert statuses == [200] * 200
    finally:
        await router.stop()


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
async def test_redis_outage(
    tmp_path: Path, redis_proc: RedisServer, redis_url: str, mode: str
) -> None:
    extra = f'\n[limits]\non_backend_error = "{mode}"\n'
    settings = router_settings(
        tmp_path, backend="redis", redis_url=redis_url, ttl=60, extra_toml=extra
    )
    router = await start_router(settings, create_key=False)
    try:
        acct = await router.state.accounts.create_account("o")
        _, key = await router.state.accounts.create_key(acct.id, "k", limits=RateLimits(rpm=1000))
        assert (await call(router, key))[0] == 200  # key now in the auth cache
        redis_proc.stop()
        try:
            status, _, body = await call(router, key)
            if mode == "fail_open":
                assert status == 200
            else:
                assert status == 429 and b"rate_limit_exceeded" in body
            errors = router.state.metrics.backend_errors_c.get("limiter", "acquire")
            assert errors._value.get() >= 1
        finally:
            redis_proc.start()
        status = 0
        for _ in range(50):
            status = (await call(router, key))[0]
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200  # recovered
    finally:
        await router.stop()


def test_workers_refuse_embedded_backend(tmp_path: Path) -> None:
    cfg = tmp_path / "e.toml"
    cfg.write_text('[providers.echo]\nplugin = "echo"\n')
    out = run_cli(cfg, "serve", "--workers", "2", cwd=tmp_path)
    assert out.returncode == 4
    assert 'needs state.backend = "redis"' in out.stderr


def test_two_workers_share_one_limit(tmp_path: Path, redis_proc: RedisServer) -> None:
    import redis

    from router_core.cli import main

    redis_proc.start()
    redis.Redis.from_url(redis_proc.url).flushall()
    cfg = tmp_path / "w.toml"
    cfg.write_text(
        f'[state]\nbackend = "redis"\nredis_url = "{redis_proc.url}"\n'
        '[auth]\nbootstrap_demo_key = false\n[logging]\nformat = "json"\naccess_log = false\n'
        '[providers.echo]\nplugin = "echo"\n'
    )
    import contextlib
    import io
    import json

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["--config", str(cfg), "accounts", "create", "w", "--json"], environ={}) == 0
    acct = json.loads(buf.getvalue())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert (
            main(
                ["--config", str(cfg), "keys", "create", acct["id"], "--rpm", "10", "--json"],
                environ={},
            )
            == 0
        )
    key = json.loads(buf.getvalue())["secret"]
    proc = start_router_process(cfg, tmp_path, args=("--workers", "2"))
    try:
        client = openai.OpenAI(base_url=proc.base_url, api_key=key, max_retries=0)
        ok = limited = 0
        for _ in range(16):
            try:
                client.chat.completions.create(model="echo/echo-1", messages=MSG)  # type: ignore[arg-type]
                ok += 1
            except openai.RateLimitError:
                limited += 1
        assert (ok, limited) == (10, 6)
    finally:
        proc.stop()
