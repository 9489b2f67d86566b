"""map_error: Google RPC error envelopes -> the router's error tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from gemini_helpers import provider
from viberouter_gemini.errors import is_context_overflow

from router_core.plugin_api import (
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    UpstreamTimeout,
)

# fixture, HTTP status, headers, class, public code, retryable, retry_after
TABLE: list[tuple[str, int, dict[str, str], type[RouterError], str, bool, float | None]] = [
    ("context.json", 400, {}, ContextLengthExceeded, "context_length_exceeded", False, None),
    ("bad_argument.json", 400, {}, InvalidRequest, "invalid_request", False, None),
    ("key_invalid.json", 400, {}, ModelError, "model_error", False, None),
    ("precondition.json", 400, {}, ModelError, "model_error", False, None),
    ("permission.json", 403, {}, ModelError, "model_error", False, None),
    ("permission.json", 401, {}, ModelError, "model_error", False, None),
    ("not_found.json", 404, {}, ModelError, "model_error", False, None),
    ("rate_limited.json", 429, {}, UpstreamRateLimited, "rate_limit_exceeded", True, 37.0),
    (
        "rate_limited.json",
        429,
        {"retry-after": "5"},
        UpstreamRateLimited,
        "rate_limit_exceeded",
        True,
        5.0,
    ),
    ("array_wrapped.json", 429, {}, UpstreamRateLimited, "rate_limit_exceeded", True, None),
    ("internal.json", 500, {}, ModelError, "model_error", True, None),
    ("unavailable.json", 503, {"retry-after": "2"}, ModelError, "model_error", True, 2.0),
    ("deadline.json", 504, {}, UpstreamTimeout, "timeout", True, None),
    ("not_json.html", 502, {}, ModelError, "model_error", True, None),
]


@pytest.mark.parametrize(
    ("fixture", "status", "headers", "cls", "code", "retryable", "retry_after"), TABLE
)
def test_error_mapping_table(
    gemini_data: Path,
    fixture: str,
    status: int,
    headers: dict[str, str],
    cls: type[RouterError],
    code: str,
    retryable: bool,
    retry_after: float | None,
) -> None:
    body = (gemini_data / "errors" / fixture).read_bytes()
    err = provider().map_error(status, headers, body)
    assert type(err) is cls
    assert (err.code, err.retryable, err.retry_after) == (code, retryable, retry_after)
    assert err.detail and str(status) in err.detail


def test_client_sees_upstream_reason_only_for_its_own_mistakes(gemini_data: Path) -> None:
    bad = provider().map_error(400, {}, (gemini_data / "errors" / "bad_argument.json").read_bytes())
    assert "Unknown name" in bad.message
    key = provider().map_error(400, {}, (gemini_data / "errors" / "key_invalid.json").read_bytes())
    assert "API key" not in key.message and "operator" in key.message
    missing = provider().map_error(
        404, {}, (gemini_data / "errors" / "not_found.json").read_bytes()
    )
    assert missing.message == "The model was not found upstream"


@pytest.mark.parametrize(
    ("message", "overflow"),
    [
        (
            "The input token count (1200345) exceeds the maximum number of tokens allowed "
            "(1048576).",
            True,
        ),
        ("Request contains an invalid argument.", False),
        ("* GenerateContentRequest.contents: contents is not specified", False),
    ],
)
def test_context_overflow_check(message: str, overflow: bool) -> None:
    assert is_context_overflow(message) is overflow
