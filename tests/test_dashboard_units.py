"""The dashboard's pure parts: passwords, throttling arithmetic, usage reports, charts."""

from __future__ import annotations

import datetime as dt

import pytest

from router_core.dashboard.charts import Series, bar_chart, nice_ceiling, ranked_bars
from router_core.dashboard.members import normalize_email
from router_core.dashboard.passwords import (
    check_policy,
    generate_password,
    hash_password,
    verify_password,
)
from router_core.dashboard.settings import DashboardSettings
from router_core.dashboard.throttle import LoginThrottle, subject
from router_core.dashboard.usage import build_report, last_days, query_since
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


async def test_throttle_backoff_doubles_and_caps() -> None:
    settings = DashboardSettings(
        login_free_attempts=3, login_backoff_s=2, login_backoff_max_s=10, login_forget_after_s=100
    )
    store = SqliteStore(":memory:")
    await store.open()
    try:
        throttle = LoginThrottle(store, settings)
        assert [throttle.backoff(n) for n in range(7)] == [0, 0, 0, 2, 4, 8, 10]
        who = subject(" Ann@Example.com", "10.0.0.1")
        assert who == "ann@example.com|10.0.0.1"
        for i in range(3):
            assert await throttle.wait(who, 1000.0 + i) == 0
            await throttle.failed(who, 1000.0 + i)
        assert await throttle.wait(who, 1002.5) == pytest.approx(1.5)
        assert await throttle.wait(who, 1004.0) == 0
        assert await throttle.wait(who, 1002.0 + 100) == 0  # forgotten
        await throttle.succeeded(who)
        assert await store.login_failures(who) == (0, 0.0)
    finally:
        await store.close()


def test_last_days_and_query_start() -> None:
    days = last_days(NOW, 30)
    assert days[0] == "2024-03-02" and days[-1] == "2024-03-31" and len(days) == 30
    monthly = Account(id="a", name="a", status="active", created_at=0, quota_tokens=1)
    assert query_since(NOW, 30, monthly) == "2024-03-01"  # the month starts earlier
    daily = Account(id="a", name="a", status="active", created_at=0, quota_period="day")
    assert query_since(NOW, 30, daily) == "2024-03-02"


def test_report_sums_per_day_model_key_and_quota() -> None:
    account = Account(
        id="a", name="a", status="active", created_at=0, quota_tokens=1000, quota_cost_usd=2.0
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
