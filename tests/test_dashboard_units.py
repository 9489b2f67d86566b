"""The dashboard's pure parts: passwords, throttling arithmetic, usage reports, charts."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router_core.accounts import AccountService
from router_core.dashboard.charts import Series, bar_chart, nice_ceiling, ranked_bars
from router_core.dashboard.members import MemberService, normalize_email
from router_core.dashboard.passwords import (
    check_policy,
    generate_password,
    hash_password,
    verify_password,
)
from router_core.dashboard.settings import DashboardSettings
from router_core.dashboard.throttle import LoginThrottle, subject
from router_core.dashboard.usage import build_report, last_days, query_since
from router_core.limits.base import Limits
from router_core.store.base import Account, UsageRow
from router_core.store.sqlite import SqliteStore

NOW = dt.datetime(2024, 3, 31, 15, 0, tzinfo=dt.UTC).timestamp()


def test_password_hash_round_trip_and_format() -> None:
    stored = hash_password("correct horse")
    parts = stored.split("$")
    assert parts[:4] == ["scrypt", "15", "8", "1"] and len(parts) == 6
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse") != stored  # salted
    assert not verify_password("anything", None)  # the decoy never matches
    assert not verify_password("correct horse", "md5$abc")
    assert not verify_password("correct horse", "scrypt$15$8$1$!!$??")


def test_password_policy_and_generation() -> None:
    with pytest.raises(ValueError):
        check_policy("short")
    check_policy("long enough")
    assert len(generate_password()) >= 16
    assert generate_password() != generate_password()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Ann@Example.COM ", "ann@example.com"), ("a.b+c@x.io", "a.b+c@x.io")],
)
def test_email_normalised(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("bad", ["", "ann", "@example.com", "ann@", "an n@example.com"])
def test_email_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_email(bad)


THROTTLE = DashboardSettings(
    login_free_attempts=3,
    login_backoff_s=2,
    login_backoff_max_s=10,
    login_forget_after_s=100,
    login_address_max_failures=6,
    login_address_window_s=1000,
)


@pytest.fixture
async def throttle() -> AsyncIterator[LoginThrottle]:
    """A throttle on a real in-memory store; each test passes its own clock values."""
    store = SqliteStore(":memory:")
    await store.open()
    yield LoginThrottle(store, THROTTLE)
    await store.close()


async def fail(throttle: LoginThrottle, email: str, address: str, now: float) -> None:
    """One attempt that is checked and turns out wrong."""
    assert await throttle.admit(email, address, now) == 0
    await throttle.failed(address, now)


async def test_throttle_backoff_doubles_and_caps(throttle: LoginThrottle) -> None:
    assert [throttle.backoff(n) for n in range(7)] == [0, 0, 0, 2, 4, 8, 10]
    assert subject(" Ann@Example.com", "10.0.0.1") == "member|ann@example.com|10.0.0.1"
    for i in range(3):
        await fail(throttle, "ann@example.com", "10.0.0.1", 1000.0 + i)
    assert await throttle.wait("ann@example.com", "10.0.0.1", 1002.5) == pytest.approx(1.5)
    assert await throttle.wait("ann@example.com", "10.0.0.1", 1004.0) == 0
    await fail(throttle, "ann@example.com", "10.0.0.1", 1004.0)  # the 4th: 4 s from now
    assert await throttle.wait("ann@example.com", "10.0.0.1", 1007.0) == pytest.approx(1.0)
    assert await throttle.wait("ann@example.com", "10.0.0.1", 1004.0 + 100) == 0  # forgotten


async def test_right_password_gets_in_once_the_backoff_from_the_last_failure_passed(
    throttle: LoginThrottle,
) -> None:
    for i in range(5):  # 3 free, then 2 s, then 4 s
        now = 1000.0 + [0, 1, 2, 4, 8][i]
        await fail(throttle, "ann@example.com", "10.0.0.1", now)
    # Refused attempts (the user hammering the button) are not counted ...
    for t in (1008.5, 1009.0, 1011.9):
        assert await throttle.admit("ann@example.com", "10.0.0.1", t) > 0
    # ... so the wait still runs from the last failure (8 s + 8 s), not from them.
    assert await throttle.wait("ann@example.com", "10.0.0.1", 1015.9) == pytest.approx(0.1)
    assert await throttle.admit("ann@example.com", "10.0.0.1", 1016.0) == 0
    await throttle.succeeded("ann@example.com", "10.0.0.1")  # the password was right
    assert await throttle.admit("ann@example.com", "10.0.0.1", 1016.1) == 0


async def test_no_lock_out_keyed_on_the_email_alone(throttle: LoginThrottle) -> None:
    for t in (1000.0, 1001.0, 1002.0, 1004.0):  # a stranger at 203.0.113.9 guessing
        await fail(throttle, "ann@example.com", "203.0.113.9", t)
    assert await throttle.admit("ann@example.com", "203.0.113.9", 1005.0) > 0
    # Ann elsewhere, and Bob at the stranger's address, are not held back.
    assert await throttle.admit("ann@example.com", "10.0.0.1", 1005.0) == 0
    assert await throttle.admit("bob@example.com", "203.0.113.9", 1005.0) == 0


async def test_an_address_spraying_many_emails_waits_for_the_next_window(
    throttle: LoginThrottle,
) -> None:
    for i in range(6):  # login_address_max_failures = 6, each email fails once
        await fail(throttle, f"user{i}@example.com", "10.0.0.9", 1200.0 + i)
    wait = await throttle.admit("ann@example.com", "10.0.0.9", 1300.0)
    assert wait == pytest.approx(700.0)  # the window is [1000, 2000)
    assert await throttle.admit("ann@example.com", "10.0.0.1", 1300.0) == 0  # other address
    assert await throttle.admit("ann@example.com", "10.0.0.9", 2000.0) == 0  # next window


async def test_parallel_guesses_are_counted_before_their_check(throttle: LoginThrottle) -> None:
    waits = await asyncio.gather(
        *(throttle.admit("ann@example.com", "10.0.0.1", 1000.0) for _ in range(8))
    )
    # The store serialises the increments: the first three are free, the rest wait.
    assert sorted(waits)[:4] == [0, 0, 0, 2]
    assert sum(1 for w in waits if w == 0) <= 4


def test_last_days_and_query_start() -> None:
    days = last_days(NOW, 30)
    assert days[0] == "2024-03-02" and days[-1] == "2024-03-31" and len(days) == 30
    monthly = Account(
        id="a", name="a", status="active", created_at=0, limits=Limits(quota_tokens=1)
    )
    assert query_since(NOW, 30, monthly) == "2024-03-01"  # the month starts earlier
    daily = Account(
        id="a", name="a", status="active", created_at=0, limits=Limits(quota_period="day")
    )
    assert query_since(NOW, 30, daily) == "2024-03-02"


def test_report_sums_per_day_model_key_and_quota() -> None:
    account = Account(
        id="a",
        name="a",
        status="active",
        created_at=0,
        limits=Limits(quota_tokens=1000, quota_cost_usd=2.0),
    )
    rows = [
        UsageRow("2024-03-01", "a", "k1", "gpt", 1, 100, 50, 0.5),  # before the window
        UsageRow("2024-03-30", "a", "k1", "gpt", 2, 10, 5, 0.25),
        UsageRow("2024-03-31", "a", "k1", "echo", 3, 1, 1, 0.0),
        UsageRow("2024-03-31", "a", "k2", "gpt", 1, 20, 10, 0.125),
    ]
    report = build_report(rows, account, NOW, 30, {"k1": "laptop"})
    assert report.per_day[-1].requests == 4 and report.per_day[-2].tokens == 15
    assert sum(d.requests for d in report.per_day) == 6
    assert report.total.tokens == 47 and report.total.cost_usd == pytest.approx(0.375)
    assert [(m, t.tokens) for m, t in report.by_model] == [("gpt", 45), ("echo", 2)]
    assert [(k, t.requests) for k, t in report.by_key] == [("laptop", 5), ("k2", 1)]
    q = report.quota
    assert q is not None
    assert (q.tokens_used, q.tokens_limit) == (197, 1000)  # the whole month counts
    assert q.cost_used == pytest.approx(0.875)
    assert build_report([], Account(id="a", name="a", status="active", created_at=0),
                        NOW, 30, {}).quota is None  # fmt: skip


def test_nice_ceiling() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 7, 13, 101, 4999)] == [
        1, 0.5, 1, 10, 20, 200, 5000,
    ]  # fmt: skip


def test_charts_escape_labels_and_scale_bars() -> None:
    svg = bar_chart(
        "c",
        "Requests <per> day",
        ["2024-03-30", "2024-03-31"],
        [Series("a&b", [5, 10]), Series("c", [0, 10])],
        str,
    )
    assert "<per>" not in svg and "Requests &lt;per&gt; day" in svg and "a&amp;b" in svg
    assert svg.count("<rect") == 3  # zero values draw nothing
    assert 'role="img"' in svg and 'aria-labelledby="c-t"' in svg
    ranked = ranked_bars("m", "per model", [("<m>", 10.0), ("x", 5.0)], str)
    assert "&lt;m&gt;" in ranked and "<m>" not in ranked
    assert ranked.count("<rect") == 2


async def test_a_sign_in_does_not_undo_a_password_reset(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        acct = await AccountService(store).create_account("a")
        members = MemberService(store, store)
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
