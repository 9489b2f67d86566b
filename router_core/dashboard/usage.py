"""Usage ledger rows -> what the usage page shows: daily series, per model, quota."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from router_core.limits.periods import period_bounds
from router_core.store.base import Account, UsageRow


def day_of(ts: float) -> str:
    """The UTC day of a Unix time, as the ledger writes it."""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def last_days(now: float, n: int) -> list[str]:
    """The ``n`` UTC days ending today, oldest first."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return [(today - dt.timedelta(days=i)).isoformat() for i in range(n - 1, -1, -1)]


@dataclass(slots=True)
class Totals:
    """Requests, tokens and cost summed over some rows."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, row: UsageRow) -> None:
        self.requests += row.requests
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        self.cost_usd += row.cost_usd


@dataclass(frozen=True, slots=True)
class Quota:
    """The account's quota for the current period and how much of it is used."""

    period: str
    period_start: float
    period_end: float
    tokens_limit: int | None
    tokens_used: int
    cost_limit: float | None
    cost_used: float


@dataclass(slots=True)
class UsageReport:
    """Everything the usage page renders."""

    days: list[str]
    per_day: list[Totals]
    total: Totals = field(default_factory=Totals)
    by_model: list[tuple[str, Totals]] = field(default_factory=list)
    by_key: list[tuple[str, Totals]] = field(default_factory=list)
    quota: Quota | None = None


def query_since(now: float, n_days: int, account: Account) -> str:
    """The first day to query: the chart window or the quota period, whichever is earlier."""
    window_start = last_days(now, n_days)[0]
    period_start = day_of(period_bounds(account.limits.quota_period, now)[0])
    return min(window_start, period_start)


def build_report(
    rows: Iterable[UsageRow],
    account: Account,
    now: float,
    n_days: int,
    key_names: Mapping[str, str],
) -> UsageReport:
    """Aggregate one account's ledger rows (already filtered to it) for the page."""
    days = last_days(now, n_days)
    index = {d: i for i, d in enumerate(days)}
    report = UsageReport(days=days, per_day=[Totals() for _ in days])
    models: dict[str, Totals] = {}
    keys: dict[str, Totals] = {}
    start, end = period_bounds(account.limits.quota_period, now)
    period_first_day = day_of(start)
    in_period = Totals()
    for row in rows:
        if row.day >= period_first_day:
            in_period.add(row)
        i = index.get(row.day)
        if i is None:
            continue
        report.per_day[i].add(row)
        report.total.add(row)
        models.setdefault(row.model, Totals()).add(row)
        keys.setdefault(key_names.get(row.key_id, row.key_id), Totals()).add(row)
    report.by_model = sorted(models.items(), key=lambda kv: (-kv[1].tokens, kv[0]))
    report.by_key = sorted(keys.items(), key=lambda kv: (-kv[1].requests, kv[0]))
    if account.limits.quota_tokens is not None or account.limits.quota_cost_usd is not None:
        report.quota = Quota(
            period=account.limits.quota_period,
            period_start=float(start),
            period_end=float(end),
            tokens_limit=account.limits.quota_tokens,
            tokens_used=in_period.tokens,
            cost_limit=account.limits.quota_cost_usd,
            cost_used=in_period.cost_usd,
        )
    return report
