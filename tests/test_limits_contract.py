"""One behavioural suite for every Limiter backend, driven by an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from router_core.errors import ConcurrentRequests, QuotaExceeded, RateLimitExceeded, RouterError
from router_core.limits.base import Admission, Limiter, Limits
from router_core.limits.factory import make_limiter
from router_core.limits.memory import MemoryLimiter
from router_core.limits.periods import DEFAULT_LEASE_TTL, period_bounds
from router_core.limits.redis import RedisLimiter

# Mid-month, on a whole second: 2024-05-15 00:00:00 UTC.
T0 = datetime(2024, 5, 15, tzinfo=UTC).timestamp()


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self, offset: float) -> None:
        self.now = T0 + offset


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """The backend name and, for Redis, a clean server's URL."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return request.param, url


@pytest.fixture
async def limiter(backend: tuple[str, str], clock: FakeClock) -> AsyncIterator[Limiter]:
    name, url = backend
    built = make_limiter(name, redis_url=url, on_backend_error="fail_closed", clock=clock)
    yield built
    await built.close()


async def admit_many(limiter: Limiter, n: int, spec: Limits, key: str = "k1") -> list[object]:
    """Run n acquires at once; return admissions and refusals in order."""
    return await asyncio.gather(
        *(limiter.acquire(key, "a1", spec, 10) for _ in range(n)), return_exceptions=True
    )


def admitted(results: list[object]) -> list[Admission]:
    return [r for r in results if isinstance(r, Admission)]


async def test_of_r_plus_k_simultaneous_requests_exactly_r_pass(limiter: Limiter) -> None:
    results = await admit_many(limiter, 13, Limits(rpm=10))
    refusals = [r for r in results if not isinstance(r, Admission)]
    assert len(admitted(results)) == 10
    assert len(refusals) == 3
    for refusal in refusals:
        assert isinstance(refusal, RateLimitExceeded)
        assert refusal.retry_after == pytest.approx(60.0, abs=1e-3)


async def test_no_doubling_across_a_window_edge(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(rpm=5)
    clock.at(59.9)
    assert len(admitted(await admit_many(limiter, 5, spec))) == 5
    clock.at(60.1)
    second = await admit_many(limiter, 5, spec)
    assert admitted(second) == []
    assert isinstance(second[0], RateLimitExceeded)
    assert second[0].retry_after == pytest.approx(59.8, abs=1e-3)
    clock.at(119.85)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 10)
    clock.at(119.95)
    assert len(admitted(await admit_many(limiter, 6, spec))) == 5


async def test_rpd_counts_a_sliding_day(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(rpd=3)
    for hour in (0, 5, 10):
        clock.at(hour * 3600)
        await limiter.acquire("k1", "a1", spec, 10)
    clock.at(20 * 3600)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.acquire("k1", "a1", spec, 10)
    assert refused.value.retry_after == pytest.approx(4 * 3600, abs=1e-3)
    clock.at(24 * 3600 + 1)
    await limiter.acquire("k1", "a1", spec, 10)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 10)


async def test_counters_are_per_key(limiter: Limiter) -> None:
    spec = Limits(rpm=1)
    await limiter.acquire("k1", "a1", spec, 10)
    await limiter.acquire("k2", "a1", spec, 10)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 10)


async def test_tpm_reserves_the_estimate_and_settle_gives_back(limiter: Limiter) -> None:
    spec = Limits(tpm=1000)
    first = await limiter.acquire("k1", "a1", spec, 600)
    assert first.reserved_tokens == 600
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 500)
    await limiter.settle(first, spec, used_tokens=100, cost_usd=0.0)
    second = await limiter.acquire("k1", "a1", spec, 500)
    assert second.tokens_remaining == 400


async def test_abandoned_stream_settles_with_fewer_tokens(
    limiter: Limiter, clock: FakeClock
) -> None:
    spec = Limits(tpm=1000)
    stream = await limiter.acquire("k1", "a1", spec, 900)
    clock.at(12.5)
    await limiter.settle(stream, spec, used_tokens=30, cost_usd=0.0)
    await limiter.settle(stream, spec, used_tokens=30, cost_usd=0.0)  # no second give-back
    after = await limiter.acquire("k1", "a1", spec, 970)
    assert after.tokens_remaining == 0
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 1)


async def test_usage_above_the_estimate_is_charged(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(tpm=1000)
    admission = await limiter.acquire("k1", "a1", spec, 100)
    clock.at(70)  # the reservation's bucket has aged out: the overrun counts from now
    await limiter.settle(admission, spec, used_tokens=700, cost_usd=0.0)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.acquire("k1", "a1", spec, 401)
    assert refused.value.retry_after == pytest.approx(61.0, abs=1e-3)
    await limiter.acquire("k1", "a1", spec, 400)


async def test_tpm_never_doubles_at_a_window_edge(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(tpm=1000)
    clock.at(59.9)
    await limiter.acquire("k1", "a1", spec, 900)
    clock.at(60.1)
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.acquire("k1", "a1", spec, 900)
    # Whole-second buckets: the 900 (bucket T0+59) counts until T0+120.
    assert refused.value.retry_after == pytest.approx(59.9, abs=1e-3)
    clock.at(119.95)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 900)
    clock.at(120.0)
    await limiter.acquire("k1", "a1", spec, 900)


async def test_an_estimate_above_tpm_is_never_retryable(limiter: Limiter) -> None:
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.acquire("k1", "a1", Limits(tpm=100), 101)
    assert refused.value.retryable is False
    assert refused.value.retry_after is None


async def test_concurrency_slot_is_held_until_settle(limiter: Limiter) -> None:
    spec = Limits(concurrency=2)
    one = await limiter.acquire("k1", "a1", spec, 10)
    await limiter.acquire("k1", "a1", spec, 10)
    assert one.holds_slot
    with pytest.raises(ConcurrentRequests):
        await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(one, spec, 10, 0.0)
    assert one.settled
    await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(one, spec, 10, 0.0)  # idempotent: frees nothing more
    with pytest.raises(ConcurrentRequests):
        await limiter.acquire("k1", "a1", spec, 10)


async def test_a_lost_lease_expires(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(concurrency=1)
    await limiter.acquire("k1", "a1", spec, 10)  # its holder "crashes": never settled
    clock.at(DEFAULT_LEASE_TTL - 1)
    with pytest.raises(ConcurrentRequests):
        await limiter.acquire("k1", "a1", spec, 10)
    clock.at(DEFAULT_LEASE_TTL + 1)
    await limiter.acquire("k1", "a1", spec, 10)


async def test_a_live_lease_is_rearmed_until_settled(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(concurrency=1)
    held = await limiter.acquire("k1", "a1", spec, 10)  # a request that outlives the TTL
    clock.at(DEFAULT_LEASE_TTL * 0.8)
    assert await refresh_leases(limiter) == 1
    clock.at(DEFAULT_LEASE_TTL * 1.5)  # past the first expiry, not the re-armed one
    with pytest.raises(ConcurrentRequests):
        await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(held, spec, 10, 0.0)
    assert await refresh_leases(limiter) == 0
    await limiter.acquire("k1", "a1", spec, 10)


async def refresh_leases(limiter: Limiter) -> int:
    """Both backends re-arm live leases; Redis does it from a timer task every third of
    the TTL, which a test with an injected clock drives by hand."""
    assert isinstance(limiter, MemoryLimiter | RedisLimiter)
    return await limiter.refresh_leases()


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (Limits(rpm=0), RateLimitExceeded),
        (Limits(rpd=0), RateLimitExceeded),
        (Limits(tpm=0), RateLimitExceeded),
        (Limits(concurrency=0), ConcurrentRequests),
        (Limits(quota_tokens=0), QuotaExceeded),
        (Limits(quota_cost_usd=0.0), QuotaExceeded),
    ],
)
async def test_zero_allows_nothing(
    limiter: Limiter, spec: Limits, error: type[RouterError]
) -> None:
    with pytest.raises(error):
        await limiter.acquire("k1", "a1", spec, 0)


async def test_zero_rate_is_not_worth_retrying(limiter: Limiter) -> None:
    with pytest.raises(RateLimitExceeded) as refused:
        await limiter.acquire("k1", "a1", Limits(rpm=0), 0)
    assert refused.value.retryable is False


async def test_none_is_unlimited(limiter: Limiter) -> None:
    spec = Limits()
    results = await admit_many(limiter, 200, spec)
    assert len(admitted(results)) == 200
    first = admitted(results)[0]
    assert (first.requests_limit, first.tokens_limit, first.holds_slot) == (None, None, False)
    await limiter.settle(first, spec, 10, 0.0)


async def test_unset_dimensions_leave_header_fields_empty(limiter: Limiter) -> None:
    admission = await limiter.acquire("k1", "a1", Limits(tpm=100), 10)
    assert (admission.requests_limit, admission.requests_remaining) == (None, None)
    assert admission.requests_reset is None
    assert admission.tokens_limit == 100


async def test_admission_carries_the_header_fields(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(rpm=10, rpd=100, tpm=1000)
    clock.at(0.5)
    await limiter.acquire("k1", "a1", spec, 100)
    clock.at(3.25)
    admission = await limiter.acquire("k1", "a1", spec, 150)
    assert (admission.requests_limit, admission.requests_remaining) == (10, 8)
    assert admission.requests_reset == pytest.approx(T0 + 60.5, abs=1e-3)
    assert (admission.tokens_limit, admission.tokens_remaining) == (1000, 750)
    assert admission.tokens_reset == pytest.approx(T0 + 61, abs=1e-3)
    assert admission.admitted_at == pytest.approx(T0 + 3.25, abs=1e-3)


async def test_headers_report_the_tighter_request_window(limiter: Limiter) -> None:
    spec = Limits(rpm=10, rpd=3)
    admission = await limiter.acquire("k1", "a1", spec, 10)
    assert (admission.requests_limit, admission.requests_remaining) == (3, 2)
    assert admission.requests_reset == pytest.approx(T0 + 86_400, abs=1e-3)
    tie = await limiter.acquire("k2", "a1", Limits(rpm=3, rpd=3), 10)
    # Equally tight: the minute window resets sooner, so it is the one reported.
    assert tie.requests_reset == pytest.approx(T0 + 60, abs=1e-3)


async def test_quota_crossed_mid_month_resets_at_the_boundary(
    limiter: Limiter, clock: FakeClock
) -> None:
    spec = Limits(quota_tokens=1000)
    first = await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(first, spec, 600, 0.0)
    second = await limiter.acquire("k2", "a1", spec, 10)  # 600 < 1000: still admitted
    await limiter.settle(second, spec, 500, 0.0)
    june = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
    for key in ("k1", "k2"):  # the quota is the account's, whatever the key
        with pytest.raises(QuotaExceeded) as refused:
            await limiter.acquire(key, "a1", spec, 10)
        assert refused.value.retry_after == pytest.approx(june - T0, abs=1e-3)
    await limiter.acquire("k1", "a2", spec, 10)  # another account is untouched
    clock.now = june - 0.5
    with pytest.raises(QuotaExceeded):
        await limiter.acquire("k1", "a1", spec, 10)
    clock.now = june
    await limiter.acquire("k1", "a1", spec, 10)


async def test_daily_cost_quota(limiter: Limiter, clock: FakeClock) -> None:
    spec = Limits(quota_cost_usd=1.0, quota_period="day")
    admission = await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(admission, spec, 10, 1.25)
    clock.at(3600)
    with pytest.raises(QuotaExceeded) as refused:
        await limiter.acquire("k1", "a1", spec, 10)
    assert refused.value.retry_after == pytest.approx(86_400 - 3600, abs=1e-3)
    clock.at(86_400)
    await limiter.acquire("k1", "a1", spec, 10)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2023, 2, 28, 12, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 0, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2100, 2, 14, tzinfo=UTC),
        datetime(2000, 3, 1, tzinfo=UTC),
        datetime(2026, 7, 31, 6, tzinfo=UTC),
    ],
)
async def test_month_boundaries_follow_the_utc_calendar(
    limiter: Limiter, clock: FakeClock, moment: datetime
) -> None:
    clock.now = moment.timestamp()
    _, end = period_bounds("month", clock.now)
    with pytest.raises(QuotaExceeded) as refused:
        await limiter.acquire("k1", "a1", Limits(quota_tokens=0), 0)
    assert refused.value.retry_after == pytest.approx(end - clock.now, abs=1e-3)


async def test_a_refusal_consumes_nothing(limiter: Limiter) -> None:
    spec = Limits(rpm=5, rpd=5, tpm=100, concurrency=1)
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("k1", "a1", spec, 200)  # TPM refuses after RPM/RPD passed
    first = await limiter.acquire("k1", "a1", spec, 50)
    assert first.requests_remaining == 4
    assert first.tokens_remaining == 50
    with pytest.raises(ConcurrentRequests):
        await limiter.acquire("k1", "a1", spec, 10)  # the slot refuses last
    await limiter.settle(first, spec, 50, 0.0)
    second = await limiter.acquire("k1", "a1", spec, 50)
    assert second.requests_remaining == 3
    assert second.tokens_remaining == 0


async def test_quota_refusal_consumes_nothing(limiter: Limiter) -> None:
    spec = Limits(rpm=1, quota_tokens=10)
    admission = await limiter.acquire("k1", "a1", spec, 10)
    await limiter.settle(admission, spec, 10, 0.0)
    with pytest.raises(QuotaExceeded):
        await limiter.acquire("k2", "a1", spec, 10)
    ok = await limiter.acquire("k2", "a1", Limits(rpm=1), 10)
    assert ok.requests_remaining == 0


def test_factory_builds_each_backend_and_rejects_unknown_names() -> None:
    memory = make_limiter("embedded", redis_url="", on_backend_error="fail_open")
    assert isinstance(memory, MemoryLimiter)
    shared = make_limiter("redis", redis_url="redis://127.0.0.1:1/0", on_backend_error="fail_open")
    assert isinstance(shared, RedisLimiter)
    with pytest.raises(ValueError, match="backend"):
        make_limiter("etcd", redis_url="", on_backend_error="fail_open")
    with pytest.raises(ValueError, match="on_backend_error"):
        make_limiter("redis", redis_url="", on_backend_error="ignore")


async def test_a_fully_returned_reservation_no_longer_sets_the_reset(
    limiter: Limiter, clock: FakeClock
) -> None:
    spec = Limits(tpm=1000)
    abandoned = await limiter.acquire("k1", "a1", spec, 300)
    clock.at(1.5)
    await limiter.settle(abandoned, spec, used_tokens=0, cost_usd=0.0)
    clock.at(5.5)
    admission = await limiter.acquire("k1", "a1", spec, 100)
    assert admission.tokens_remaining == 900
    assert admission.tokens_reset == pytest.approx(T0 + 5 + 61, abs=1e-3)
