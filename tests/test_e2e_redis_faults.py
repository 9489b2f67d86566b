"""Redis faults end to end: a real redis-server killed, frozen and reloading under a real
router process, a thousand concurrent requests, and leases of a router killed with -9.

Each test asserts what clients saw (status, code, Retry-After, time to answer) and
measures how long service took to come back after Redis did; the figures are printed
(``pytest -s``) and quoted in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.redis_routers import Answer, ask, burst_session, make_keys, write_config
from tests.router_process import RouterProcess, start_router_process
from tests.services import RedisServer, redis_server

HANG = {"model": "echo", "messages": [{"role": "user", "content": "[[echo:hang]]"}]}
# Generous, not a speed check: a Redis call gives up after 1 s at the very most (its
# deadline re-armed while a loaded machine keeps the router busy); typical is 1-120 ms.
ANSWER_BOUND_S = 1.5
RECOVERY_BOUND_S = 5.0


@dataclass
class Traffic:
    """Requests sent in a loop while a fault happens; what each one got."""

    answers: list[Answer] = field(default_factory=list)
    running: bool = True


async def keep_asking(
    session: aiohttp.ClientSession, router: RouterProcess, key: str, traffic: Traffic
) -> None:
    """Four clients in a loop (bounded: stops when told, at most 2,000 requests)."""

    async def one() -> None:
        for _ in range(500):
            if not traffic.running:
                return
            traffic.answers.append(await ask(session, router, key))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(one() for _ in range(4)))


async def recovery_seconds(
    session: aiohttp.ClientSession, router: RouterProcess, keys: list[str]
) -> float:
    """Seconds until every key is served with its limits enforced again (Redis is back)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        answers = [await ask(session, router, key) for key in keys]
        if all(a.status == 200 and "x-ratelimit-limit-requests" in a.headers for a in answers):
            return time.monotonic() - t0
        await asyncio.sleep(0.02)
    raise AssertionError("service did not recover within 30 s of Redis returning")


def assert_policy(answer: Answer, mode: str) -> None:
    """A key the router knows, while Redis cannot answer: the limiter's policy."""
    assert answer.seconds < ANSWER_BOUND_S
    if mode == "fail_open":
        assert answer.status == 200
    else:
        assert (answer.status, answer.code) == (429, "rate_limit_exceeded")
        assert answer.headers["Retry-After"] == "1"


def assert_unavailable(answer: Answer) -> None:
    """A key never seen before, while the store cannot answer."""
    assert answer.seconds < ANSWER_BOUND_S
    assert (answer.status, answer.code) == (503, "server_error")
    assert answer.headers["Retry-After"] == "1"


def assert_clean(traffic: Traffic, router: RouterProcess) -> None:
    assert traffic.answers, "the traffic loop sent nothing"
    assert all(a.status < 500 for a in traffic.answers), [a.status for a in traffic.answers]
    assert max(a.seconds for a in traffic.answers) < ANSWER_BOUND_S
    assert "Traceback" not in router.output()


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of its own (faults must not touch the shared one) that keeps its
    data across SIGKILL (append-only file, fsync on every write)."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    with redis_server(workdir, ("--appendonly", "yes", "--appendfsync", "always")) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with burst_session(total_s=30) as s:
        yield s


async def fault_scenario(
    tmp_path: Path,
    redis: RedisServer,
    session: aiohttp.ClientSession,
    mode: str,
    fault: str,
) -> float:
    """Traffic, the fault, probes while it lasts, Redis back, the recovery time."""
    known, fresh = await make_keys(redis.url, 2, rpm=10_000)
    router = start_router_process(write_config(tmp_path, redis.url, mode=mode), tmp_path)
    traffic = Traffic()
    try:
        assert (await ask(session, router, known)).status == 200  # cached from now on
        loop = asyncio.create_task(keep_asking(session, router, known, traffic))
        await asyncio.sleep(0.3)
        if fault == "kill":
            redis.kill()
        else:
            redis.freeze()
        await asyncio.sleep(1.5)  # the auth cache entry (1 s) is now stale
        probes = [await ask(session, router, known), await ask(session, router, fresh)]
        assert_policy(probes[0], mode)
        assert_unavailable(probes[1])
        print(
            f"\n{fault} ({mode}): answers during the fault in",
            [round(p.seconds, 3) for p in probes],
        )
        if fault == "kill":
            redis.start()
        else:
            redis.thaw()
        recovered = await recovery_seconds(session, router, [known, fresh])
        traffic.running = False
        await loop
        assert_clean(traffic, router)
        return recovered
    finally:
        traffic.running = False
        router.stop()


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
async def test_redis_killed_during_traffic(
    tmp_path: Path, durable_redis: RedisServer, session: aiohttp.ClientSession, mode: str
) -> None:
    recovered = await fault_scenario(tmp_path, durable_redis, session, mode, "kill")
    print(f"\nredis SIGKILL ({mode}): recovered {recovered:.3f} s after redis-server restarted")
    assert recovered < RECOVERY_BOUND_S


@pytest.mark.parametrize("mode", ["fail_open", "fail_closed"])
async def test_redis_frozen_during_traffic(
    tmp_path: Path, durable_redis: RedisServer, session: aiohttp.ClientSession, mode: str
) -> None:
    recovered = await fault_scenario(tmp_path, durable_redis, session, mode, "freeze")
    print(f"\nredis SIGSTOP ({mode}): recovered {recovered:.3f} s after SIGCONT")
    assert recovered < RECOVERY_BOUND_S


async def test_redis_loading_its_data(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    """Restarted on a dump it takes about a second to load: LOADING replies, no 500."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    with redis_server(workdir) as redis:
        known, fresh = await make_keys(redis.url, 2, rpm=10_000)
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(redis.url)
        filler = "for i = 1, 20000 do redis.call('SET', 'filler:' .. i, i) end return 1"
        await client.eval(filler, 0)
        await client.save()
        await client.aclose()
        router = start_router_process(write_config(tmp_path, redis.url), tmp_path)
        try:
            assert (await ask(session, router, known)).status == 200
            redis.kill()
            redis.args = ["--key-load-delay", "25"]  # 25 us per key: about a second
            await asyncio.sleep(1.2)
            redis.start()  # listens at once, answers LOADING until the dump is read
            t0 = time.monotonic()
            seen_loading = assert_loading_answers(
                [await ask(session, router, k) for k in (known, fresh)]
            )
            recovered = await recovery_seconds(session, router, [known, fresh])
            total = time.monotonic() - t0
            assert "Traceback" not in router.output()
        finally:
            router.stop()
    print(f"\nredis LOADING: served again {total:.3f} s after restart (loading: {seen_loading})")
    assert recovered < RECOVERY_BOUND_S


def assert_loading_answers(answers: list[Answer]) -> bool:
    """While Redis loads: the known key per policy (fail_closed), the fresh one 503;
    True if Redis was still loading when they were sent."""
    known, fresh = answers
    assert known.seconds < ANSWER_BOUND_S and fresh.seconds < ANSWER_BOUND_S
    if fresh.status == 200:  # the load finished first: nothing to check beyond "no 500"
        return False
    assert_policy(known, "fail_closed")
    assert_unavailable(fresh)
    return True


async def wait_for_status(
    session: aiohttp.ClientSession,
    router: RouterProcess,
    key: str,
    want: tuple[int, str],
    limit_s: float = 30.0,
) -> float:
    """Poll (every 50 ms, at most ``limit_s``) until a request gets ``want``; the wait."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        answer = await ask(session, router, key)
        if (answer.status, answer.code) == want:
            return time.monotonic() - t0
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {want} within {limit_s} s")


async def wait_in_flight(
    session: aiohttp.ClientSession, router: RouterProcess, want: int, limit_s: float = 10.0
) -> None:
    """Poll /metrics (every 50 ms, at most ``limit_s``) until ``want`` admitted requests
    are in flight: a probe request would take a slot itself and race the holders."""
    line = f"viberouter_in_flight_requests {float(want)}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        async with session.get(router.url + "/metrics") as resp:
            if line in (await resp.text()).splitlines():
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {want} requests in flight within {limit_s} s")


async def test_router_killed_with_leases_held(
    tmp_path: Path, redis_url: str, session: aiohttp.ClientSession
) -> None:
    """kill -9 of a router holding 5 concurrency slots: another router gets them back
    within the lease TTL; a request that outlives its TTL keeps its slot."""
    lease = 3.0
    key, long_key = await make_keys(redis_url, 2, concurrency=5)
    config = write_config(tmp_path, redis_url, lease=lease)
    doomed = start_router_process(config, tmp_path)
    survivor = start_router_process(config, tmp_path)
    hanging = [asyncio.create_task(ask(session, doomed, key, HANG)) for _ in range(5)]
    try:
        await wait_in_flight(session, doomed, 5)  # all five hold their slot
        assert (await ask(session, survivor, key)).code == "concurrent_requests"
        doomed.proc.kill()
        doomed.proc.wait(timeout=10)
        t0 = time.monotonic()
        await asyncio.gather(*hanging, return_exceptions=True)  # their connections reset
        assert (await ask(session, survivor, key)).code == "concurrent_requests"
        freed = await wait_for_status(session, survivor, key, (200, ""), 10)
        freed = time.monotonic() - t0
        print(f"\nrouter SIGKILL with 5 leases held: slots back after {freed:.3f} s (ttl {lease})")
        assert freed < lease + 2.0

        holders = [asyncio.create_task(ask(session, survivor, long_key, HANG)) for _ in range(5)]
        await wait_in_flight(session, survivor, 5)
        await asyncio.sleep(lease + 1.5)  # past the first expiry: re-armed, not expired
        assert (await ask(session, survivor, long_key)).code == "concurrent_requests"
        for holder in holders:
            holder.cancel()
        released = await wait_for_status(session, survivor, long_key, (200, ""), 5)
        assert released < 2.0  # settled when the clients left, not by expiry
        assert "Traceback" not in survivor.output()
    finally:
        for task in hanging:
            task.cancel()
        doomed.stop()
        survivor.stop()


async def test_admin_api_while_redis_is_down(
    tmp_path: Path, durable_redis: RedisServer, session: aiohttp.ClientSession
) -> None:
    """Not only the client API: an admin call that needs the store gets 503 with
    Retry-After, not a 500 and a traceback, and works again once Redis is back."""
    from tests.router_harness import router_settings, start_router

    settings = router_settings(
        tmp_path, backend="redis", redis_url=durable_redis.url, admin_token="admin-secret"
    )
    router = await start_router(settings, create_key=False)
    headers = {"Authorization": "Bearer admin-secret"}
    try:
        url = router.url + "/admin/v1/accounts"
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 200
        durable_redis.kill()
        async with session.get(url, headers=headers) as resp:
            body = await resp.json()
            assert (resp.status, body["error"]) == (503, "server_error")
            assert resp.headers["Retry-After"] == "1"
        durable_redis.start()
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 200
    finally:
        await router.stop()
