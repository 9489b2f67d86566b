"""MemoryLimiter specifics: bounded memory, its default clock, settle after a sweep."""

from __future__ import annotations

import time

import pytest

from router_core.errors import RateLimitExceeded
from router_core.limits.base import Limits
from router_core.limits.memory import MemoryLimiter


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def test_idle_keys_are_forgotten(clock: ManualClock) -> None:
    limiter = MemoryLimiter(clock)
    spec = Limits(rpm=5, tpm=1000, concurrency=3)
    for n in range(500):
        admission = await limiter.acquire(f"k{n}", "a1", spec, 10)
        await limiter.settle(admission, spec, 10, 0.0)
    assert limiter.tracked == 500
    clock.now += 62
    await limiter.acquire("fresh", "a1", spec, 10)
    assert limiter.tracked == 1


async def test_state_that_still_counts_survives_the_sweep(clock: ManualClock) -> None:
    limiter = MemoryLimiter(clock)
    await limiter.acquire("daily", "a1", Limits(rpd=1), 0)
    busy = await limiter.acquire("busy", "a1", Limits(concurrency=1), 0)  # still running
    quota = Limits(quota_tokens=100, quota_period="day")
    await limiter.settle(await limiter.acquire("q", "a1", quota, 0), quota, 100, 0.0)
    clock.now += 600
    await limiter.acquire("other", "a2", Limits(rpm=1), 0)
    assert limiter.tracked == 4  # daily, busy (lease alive), other, a1's quota; q is idle
    assert busy.holds_slot
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("daily", "a1", Limits(rpd=1), 0)
    del busy  # its holder is gone without settling: the lease is not re-armed
    clock.now += 86_400
    await limiter.acquire("other", "a2", Limits(rpm=1), 0)
    assert limiter.tracked == 1


async def test_an_overrun_settled_after_the_sweep_still_counts(clock: ManualClock) -> None:
    limiter = MemoryLimiter(clock)
    spec = Limits(tpm=1000)
    admission = await limiter.acquire("k1", "a1", spec, 10)
    clock.now += 120
    await limiter.acquire("k2", "a1", spec, 0)  # sweeps k1 away
    await limiter.settle(admission, spec, used_tokens=950, cost_usd=0.0)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 100)


async def test_the_default_clock_is_wall_time() -> None:
    limiter = MemoryLimiter()
    admission = await limiter.acquire("k1", "a1", Limits(rpm=1), 0)
    assert abs(admission.admitted_at - time.time()) < 5
    assert admission.requests_reset == pytest.approx(admission.admitted_at + 60)


async def test_close_drops_everything(clock: ManualClock) -> None:
    limiter = MemoryLimiter(clock)
    await limiter.acquire("k1", "a1", Limits(rpm=1, quota_tokens=5), 0)
    await limiter.close()
    assert limiter.tracked == 0
