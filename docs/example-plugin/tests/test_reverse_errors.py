"""Reverse API failures -> the router's errors (status, code, retryability)."""

from __future__ import annotations

from pathlib import Path

import pytest
from router_core.plugin_api import (
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

from viberouter_reverse import ReverseProvider

PROVIDER = ReverseProvider()


@pytest.mark.parametrize(
    ("status", "fixture", "headers", "expected", "retryable"),
    [
        (429, "error_rate_limited.json", {"Retry-After": "2"}, UpstreamRateLimited, True),
        (400, "error_too_long.json", {}, ContextLengthExceeded, False),
        (401, "error_bad_key.json", {}, ModelError, False),
        (503, "error_overloaded.json", {}, ModelError, True),
        (502, "error_proxy.html", {}, ModelError, True),
        (504, "error_proxy.html", {}, UpstreamTimeout, True),
        (422, "error_proxy.html", {}, InvalidRequest, False),
    ],
)
def test_map_error(
    data: Path,
    status: int,
    fixture: str,
    headers: dict[str, str],
    expected: type[RouterError],
    retryable: bool,
) -> None:
    error = PROVIDER.map_error(status, headers, (data / fixture).read_bytes())
    assert type(error) is expected
    assert error.retryable is retryable


def test_rate_limit_carries_retry_after(data: Path) -> None:
    error = PROVIDER.map_error(
        429, {"Retry-After": "2"}, (data / "error_rate_limited.json").read_bytes()
    )
    assert error.retry_after == 2.0
    assert error.http_status == 429 and error.code == "rate_limit_exceeded"


def test_operator_detail_stays_out_of_the_client_message(data: Path) -> None:
    error = PROVIDER.map_error(401, {}, (data / "error_bad_key.json").read_bytes())
    assert "Unknown API key" in (error.detail or "")
    assert "Unknown API key" not in error.message
