"""Rate-limit response headers: the API reference's X-RateLimit-* (Unix-time resets)
and the OpenAI-named x-ratelimit-* that SDKs read (resets as durations)."""

from __future__ import annotations

import math

from router_core.limits.base import Admission, Limits


def duration(seconds: float) -> str:
    """OpenAI-style duration: ``1s``, ``6m0s``, ``1h2m3s``, ``250ms``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"  # negative (past): 0ms
    total = math.ceil(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def rate_limit_headers(adm: Admission, now: float) -> dict[str, str]:
    """Headers for one admitted request; dimensions without a limit are left out."""
    h: dict[str, str] = {}
    if adm.requests_limit is not None:
        limit = str(adm.requests_limit)
        remaining = str(max(0, adm.requests_remaining or 0))
        reset = adm.requests_reset or now
        h["X-RateLimit-Limit"] = limit
        h["X-RateLimit-Remaining"] = remaining
        h["X-RateLimit-Reset"] = str(math.ceil(reset))
        h["x-ratelimit-limit-requests"] = limit
        h["x-ratelimit-remaining-requests"] = remaining
        h["x-ratelimit-reset-requests"] = duration(reset - now)
    if adm.tokens_limit is not None:
        reset = adm.tokens_reset or now
        # HTTP header names are case-insensitive: X-RateLimit-Limit-Tokens and
        # x-ratelimit-limit-tokens are one header. Limit and remaining agree in both
        # conventions; for the reset the OpenAI duration form wins (SDKs parse it).
        h["x-ratelimit-limit-tokens"] = str(adm.tokens_limit)
        h["x-ratelimit-remaining-tokens"] = str(max(0, adm.tokens_remaining or 0))
        h["x-ratelimit-reset-tokens"] = duration(reset - now)
    return h


def retry_headers(retry_after: float | None, *, should_retry: bool) -> dict[str, str]:
    """``x-should-retry`` (the OpenAI SDKs obey it over their own status rules) and, when
    the wait is known, Retry-After (whole seconds, rounded up) and retry-after-ms."""
    h: dict[str, str] = {"x-should-retry": "true" if should_retry else "false"}
    if retry_after is not None and math.isfinite(retry_after):
        retry_after = min(max(retry_after, 0.0), 86_400.0)
        h["Retry-After"] = str(max(1, math.ceil(retry_after)))
        h["retry-after-ms"] = str(max(1, math.ceil(retry_after * 1000)))
    return h


def refusal_headers(spec: Limits, retry_after: float | None, now: float) -> dict[str, str]:
    """Where a refused client stands: the request limit with nothing remaining."""
    limit = spec.rpm if spec.rpm is not None else spec.rpd
    if limit is None:
        return {}
    wait = retry_after if retry_after is not None and math.isfinite(retry_after) else 0.0
    reset = now + min(max(wait, 0.0), 86_400.0)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(reset)),
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": duration(max(0.0, reset - now)),
    }
