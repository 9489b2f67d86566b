"""RedisLimiter against a real redis-server: round trips, sharing, keys, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from router_core.errors import ConcurrentRequests, RateLimitExceeded
from router_core.limits.base import Admission, Limits
from router_core.limits.periods import DEFAULT_LEASE_TTL
from router_core.limits.redis import UNAVAILABLE_MESSAGE, RedisLimiter
from tests.services import RedisServer

EVERYTHING = Limits(
    rpm=100, rpd=1000, tpm=100_000, concurrency=5, quota_tokens=10**9, quota_cost_usd=1e6
)
END_MARKER = "vr-test-end-of-commands"


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class ErrorLog:
    """Collects on_error calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, BaseException]] = []

    def __call__(self, kind: str, exc: BaseException) -> None:
        self.calls.append((kind, exc))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    conn = aioredis.Redis.from_url(redis_url)
    yield conn
    await conn.aclose()


async def commands_sent(client: aioredis.Redis, redis_url: str, work: object) -> list[str]:
    """Names of the commands clients (not scripts) sent to Redis while ``work`` ran."""
    assert asyncio.iscoroutine(work)
    marker = aioredis.Redis.from_url(redis_url)
    seen: list[str] = []
    try:
        await marker.ping()  # its connection handshake must not be counted
        async with client.monitor() as monitor:
            await work
            await marker.echo(END_MARKER)
            while True:
                info = await asyncio.wait_for(monitor.next_command(), timeout=5)
                if END_MARKER in info["command"]:
                    break
                if info["client_type"] != "lua":
                    seen.append(info["command"].split()[0].upper())
    finally:
        await marker.aclose()
    return seen


async def test_one_round_trip_per_acquire_and_one_per_settle(
    redis_url: str, client: aioredis.Redis
) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        warm = await limiter.acquire("k1", "a1", EVERYTHING, 100)  # loads the scripts
        await limiter.settle(warm, EVERYTHING, 80, 0.01)
        admissions: list[Admission] = []

        async def acquire() -> None:
            admissions.append(await limiter.acquire("k1", "a1", EVERYTHING, 100))

        assert await commands_sent(client, redis_url, acquire()) == ["EVALSHA"]
        settle = limiter.settle(admissions[0], EVERYTHING, 80, 0.01)
        assert await commands_sent(client, redis_url, settle) == ["EVALSHA"]
    finally:
        await limiter.close()


async def test_an_unlimited_key_costs_no_round_trip(redis_url: str, client: aioredis.Redis) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        admissions: list[Admission] = []

        async def both() -> None:
            admission = await limiter.acquire("k1", "a1", Limits(), 100)
            await limiter.settle(admission, Limits(), 80, 0.01)
            admissions.append(admission)

        assert await commands_sent(client, redis_url, both()) == []
        assert admissions[0].settled
    finally:
        await limiter.close()


async def test_two_processes_enforce_one_shared_limit(redis_url: str) -> None:
    first, second = RedisLimiter(redis_url), RedisLimiter(redis_url)
    spec = Limits(rpm=10)
    try:
        results = await asyncio.gather(
            *(lim.acquire("k1", "a1", spec, 10) for lim in (first, second) for _ in range(15)),
            return_exceptions=True,
        )
    finally:
        await first.close()
        await second.close()
    assert sum(isinstance(r, Admission) for r in results) == 10
    assert sum(isinstance(r, RateLimitExceeded) for r in results) == 20


async def test_a_crashed_process_frees_its_slots_when_the_lease_expires(redis_url: str) -> None:
    clock = ManualClock()
    crashed = RedisLimiter(redis_url, clock=clock)
    survivor = RedisLimiter(redis_url, clock=clock)
    spec = Limits(concurrency=1)
    try:
        await crashed.acquire("k1", "a1", spec, 10)
        await crashed.close()  # gone without settling
        with pytest.raises(ConcurrentRequests):
            await survivor.acquire("k1", "a1", spec, 10)
        clock.now += DEFAULT_LEASE_TTL + 0.001
        assert (await survivor.acquire("k1", "a1", spec, 10)).holds_slot
    finally:
        await survivor.close()


async def test_keys_share_the_account_hash_tag_and_all_expire(
    redis_url: str, client: aioredis.Redis
) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        for period in ("month", "day"):
            spec = Limits(
                rpm=5, rpd=5, tpm=1000, concurrency=2, quota_tokens=100, quota_period=period
            )
            admission = await limiter.acquire("key-7", "acct-3", spec, 50)
            await limiter.settle(admission, spec, 60, 0.5)
        await limiter.acquire("key-7", "acct-3", Limits(concurrency=2), 0)  # a held slot
    finally:
        await limiter.close()
    keys = sorted([k.decode() async for k in client.scan_iter("*")])
    assert keys == sorted(
        [f"vr:{{acct_acct-3}}:key:key-7:{d}" for d in ("rpm", "rpd", "tpm", "conc")]
        + ["vr:{acct_acct-3}:quota:month", "vr:{acct_acct-3}:quota:day"]
    )
    assert len({key_slot(k.encode()) for k in keys}) == 1
    for key in keys:
        assert await client.ttl(key) > 0, key


async def test_without_a_clock_the_server_time_is_used(redis_url: str) -> None:
    limiter = RedisLimiter(redis_url)
    try:
        admission = await limiter.acquire("k1", "a1", Limits(rpm=5), 10)
    finally:
        await limiter.close()
    assert abs(admission.admitted_at - time.time()) < 5
    assert admission.requests_reset == pytest.approx(admission.admitted_at + 60, abs=1e-3)


async def test_a_flushed_script_cache_is_reloaded(redis_url: str, client: aioredis.Redis) -> None:
    limiter = RedisLimiter(redis_url)
    spec = Limits(rpm=5, concurrency=1)
    try:
        first = await limiter.acquire("k1", "a1", spec, 10)
        await client.script_flush()
        await limiter.settle(first, spec, 10, 0.0)  # NOSCRIPT, reload, run
        await client.script_flush()
        second = await limiter.acquire("k1", "a1", spec, 10)
    finally:
        await limiter.close()
    assert second.requests_remaining == 3
    assert second.holds_slot


async def test_fail_open_admits_while_redis_is_down_then_recovers(
    redis_url: str, redis_proc: RedisServer
) -> None:
    errors = ErrorLog()
    limiter = RedisLimiter(redis_url, on_backend_error="fail_open", on_error=errors)
    spec = Limits(rpm=2, tpm=1000, concurrency=1, quota_tokens=10_000)
    try:
        held = await limiter.acquire("k1", "a1", spec, 100)
        redis_proc.stop()
        try:
            degraded = await limiter.acquire("k1", "a1", spec, 100)
            assert (degraded.requests_limit, degraded.tokens_limit) == (None, None)
            assert not degraded.holds_slot
            await limiter.settle(held, spec, 50, 0.1)  # reported, never raised
            await limiter.settle(degraded, spec, 50, 0.1)  # a no-op: nothing to report
        finally:
            redis_proc.start()
        assert errors.kinds == ["acquire", "settle"]
        # A fresh server: empty data and script cache, stale pooled connections.
        recovered = await limiter.acquire("k1", "a1", spec, 100)
        assert (recovered.requests_limit, recovered.requests_remaining) == (2, 1)
        assert recovered.holds_slot
        await limiter.settle(recovered, spec, 50, 0.1)
        assert errors.kinds == ["acquire", "settle"]
    finally:
        await limiter.close()


async def test_fail_closed_refuses_while_redis_is_down_then_recovers(
    redis_url: str, redis_proc: RedisServer
) -> None:
    errors = ErrorLog()
    limiter = RedisLimiter(redis_url, on_backend_error="fail_closed", on_error=errors)
    spec = Limits(rpm=2)
    try:
        await limiter.acquire("k1", "a1", spec, 10)
        redis_proc.stop()
        try:
            with pytest.raises(RateLimitExceeded) as refused:
                await limiter.acquire("k1", "a1", spec, 10)
        finally:
            redis_proc.start()
        assert refused.value.message == UNAVAILABLE_MESSAGE
        assert refused.value.retry_after == 1.0
        assert refused.value.retryable
        assert errors.kinds == ["acquire"]
        assert refused.value.__cause__ is errors.calls[0][1]
        recovered = await limiter.acquire("k1", "a1", spec, 10)
        assert recovered.requests_remaining == 1
    finally:
        await limiter.close()


def test_an_unknown_failure_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="on_backend_error"):
        RedisLimiter("redis://127.0.0.1:1/0", on_backend_error="shrug")  # type: ignore[arg-type]
