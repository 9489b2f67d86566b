"""router_core/dialects/anthropic_messages errors: every router error class in
Anthropic's status, type and envelope; stream error events; rate-limit headers."""

from __future__ import annotations

import json

import pytest

from router_core import errors
from router_core.dialects.anthropic_messages import (
    classify,
    error_body,
    error_event,
    rate_limit_headers,
    refusal_rate_limit_headers,
)
from router_core.dialects.anthropic_messages.errors import anthropic_headers, rfc3339
from router_core.limits.base import Admission, Limits

CASES: list[tuple[errors.RouterError, int, str]] = [
    (errors.InvalidRequest(), 400, "invalid_request_error"),
    (errors.InvalidRequest("too big", status=413), 413, "request_too_large"),
    (errors.InvalidRequest("No such endpoint", status=404), 404, "not_found_error"),
    (errors.InvalidRequest("slow body", status=408), 408, "timeout_error"),
    (errors.InvalidRequest("method", status=405), 405, "invalid_request_error"),
    (errors.InvalidModel(), 404, "not_found_error"),
    (errors.ContextLengthExceeded(), 400, "invalid_request_error"),
    (errors.ContentFilter(), 400, "invalid_request_error"),
    (errors.InvalidApiKey(), 401, "authentication_error"),
    (errors.ExpiredApiKey(), 401, "authentication_error"),
    (errors.AccountNotActive(), 403, "permission_error"),
    (errors.RateLimitExceeded(), 429, "rate_limit_error"),
    (errors.UpstreamRateLimited(), 429, "rate_limit_error"),
    (errors.QuotaExceeded(), 429, "rate_limit_error"),
    (errors.ConcurrentRequests(), 429, "rate_limit_error"),
    (errors.ServerError(), 500, "api_error"),
    (errors.ModelError(), 502, "api_error"),
    (errors.ModelError("every circuit open", status=503), 529, "overloaded_error"),
    (errors.UpstreamTimeout(), 504, "timeout_error"),
]


def test_every_router_code_is_mapped() -> None:
    assert {type(err).code for err, _, _ in CASES} == set(errors.ALL_CODES)


@pytest.mark.parametrize(("err", "status", "kind"), CASES, ids=lambda v: repr(v)[:40])
def test_error_classes(err: errors.RouterError, status: int, kind: str) -> None:
    got_status, got_kind, message = classify(err)
    assert (got_status, got_kind) == (status, kind)
    code, body = error_body(err)
    assert code == status
    assert json.loads(body) == {"type": "error", "error": {"type": kind, "message": message}}


def test_context_overflow_is_worded_like_anthropic() -> None:
    _, _, message = classify(errors.ContextLengthExceeded())
    assert message.startswith("prompt is too long: ")


def test_body_carries_the_request_id_when_given() -> None:
    _, body = error_body(errors.InvalidApiKey(), request_id="abc")
    assert body == (
        b'{"type":"error","error":{"type":"authentication_error","message":"Invalid API key"},'
        b'"request_id":"abc"}'
    )


def test_stream_error_event() -> None:
    assert error_event(errors.ModelError("Overloaded", status=503)) == (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )


def test_rate_limit_headers_in_anthropic_form() -> None:
    adm = Admission(
        key_id="k",
        account_id="a",
        lease_id="l",
        reserved_tokens=10,
        holds_slot=False,
        admitted_at=0.0,
        requests_limit=60,
        requests_remaining=59,
        requests_reset=1_767_225_600.2,
        tokens_limit=1000,
        tokens_remaining=-5,
        tokens_reset=None,
    )
    assert rate_limit_headers(adm, now=1_767_225_500.0) == {
        "anthropic-ratelimit-requests-limit": "60",
        "anthropic-ratelimit-requests-remaining": "59",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
        "anthropic-ratelimit-tokens-limit": "1000",
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2025-12-31T23:58:20Z",
    }
    unlimited = Admission("k", "a", "l", 0, False, 0.0)
    assert rate_limit_headers(unlimited, now=0.0) == {}


def test_refusal_headers() -> None:
    assert refusal_rate_limit_headers(Limits(rpm=5), 2.5, now=0.0) == {
        "anthropic-ratelimit-requests-limit": "5",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "1970-01-01T00:00:03Z",
    }
    assert refusal_rate_limit_headers(Limits(), None, now=0.0) == {}


def test_request_id_header_and_rfc3339() -> None:
    assert anthropic_headers({"X-Request-ID": "r1"}) == {"request-id": "r1"}
    assert anthropic_headers({}) == {}
    assert rfc3339(0) == "1970-01-01T00:00:00Z"
