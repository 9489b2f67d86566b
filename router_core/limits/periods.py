"""Time arithmetic both limiter backends share: window lengths and quota periods.

Quota periods are UTC calendar days or months. The Redis backend computes the same
boundaries inside its Lua script (see ``scripts.py``); the contract tests pin both to
these results.
"""

from __future__ import annotations

from datetime import UTC, datetime

from router_core.limits.base import QuotaPeriod

DAY_SECONDS = 86_400


def period_bounds(period: QuotaPeriod, now: float) -> tuple[int, int]:
    """Return ``(start, end)`` Unix seconds of the UTC period containing ``now``."""
    if period == "day":
        start = int(now // DAY_SECONDS) * DAY_SECONDS
        return start, start + DAY_SECONDS
    moment = datetime.fromtimestamp(now, UTC)
    first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    if moment.month == 12:
        following = datetime(moment.year + 1, 1, 1, tzinfo=UTC)
    else:
        following = datetime(moment.year, moment.month + 1, 1, tzinfo=UTC)
    return int(first.timestamp()), int(following.timestamp())


# Sliding-window lengths of the request logs.
MINUTE_SECONDS = 60
# TPM is counted in whole-second buckets; a bucket stays counted while it is at most
# TPM_SPAN_BUCKETS - 1 seconds older than the current one, i.e. tokens count for 60 to
# 61 s. Erring long means no 60 s window can ever hold more than the limit.
TPM_SPAN_BUCKETS = 61
# A concurrency slot whose holder stopped re-arming it for this many seconds is presumed
# lost (crashed process) and freed; live requests re-arm theirs every third of it, so
# only a dead holder's slots ever expire (``limits.lease_ttl_s`` in the config).
DEFAULT_LEASE_TTL = 20.0
# How often live leases are re-armed, as a fraction of their TTL.
LEASE_REFRESH_FRACTION = 1 / 3
