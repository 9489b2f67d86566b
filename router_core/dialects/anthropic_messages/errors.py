"""Router errors in Anthropic's shape: status, ``error.type``, body, stream event and
rate-limit headers.

Mapping (router code -> Anthropic): invalid_request -> 400 invalid_request_error
(413 request_too_large, 404 not_found_error, 408 timeout_error keep their status);
invalid_model -> 404 not_found_error; context_length_exceeded and content_filter ->
400 invalid_request_error (the former worded "prompt is too long", which Claude Code
reacts to by compacting); invalid_api_key, expired_api_key -> 401
authentication_error; account_not_active -> 403 permission_error; rate_limit_exceeded,
concurrent_requests, quota_exceeded -> 429 rate_limit_error; server_error -> api_error
at its status (500; 503 while the state backend is down); model_error -> api_error at
its status, except 503 (no deployment can take the request now: the provider is
overloaded, or every circuit is open), which is Anthropic's overload, 529
overloaded_error; timeout -> 504 timeout_error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import msgspec

from router_core.dialects.anthropic_messages.wire import ErrorDetail, ErrorOut
from router_core.errors import RouterError
from router_core.limits.base import Admission, Limits

_encode = msgspec.json.Encoder().encode

OVERLOADED_STATUS = 529

#: router code -> (Anthropic status, error.type); ``None`` status keeps the router's.
_BY_CODE: dict[str, tuple[int | None, str]] = {
    "invalid_model": (404, "not_found_error"),
    "context_length_exceeded": (400, "invalid_request_error"),
    "content_filter": (400, "invalid_request_error"),
    "invalid_api_key": (401, "authentication_error"),
    "expired_api_key": (401, "authentication_error"),
    "account_not_active": (403, "permission_error"),
    "rate_limit_exceeded": (429, "rate_limit_error"),
    "concurrent_requests": (429, "rate_limit_error"),
    "quota_exceeded": (429, "rate_limit_error"),
    "server_error": (None, "api_error"),
    "timeout": (504, "timeout_error"),
}
#: status -> error.type for everything else (invalid_request, model_error, unknown).
_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_CONTEXT_PREFIX = "prompt is too long: "


def classify(err: RouterError) -> tuple[int, str, str]:
    """``(status, error.type, message)`` an Anthropic client gets for ``err``."""
    message = err.message
    if err.code == "context_length_exceeded":
        message = _CONTEXT_PREFIX + message
    mapped = _BY_CODE.get(err.code)
    if mapped is not None:
        status, kind = mapped
        return status or err.http_status, kind, message
    status = err.http_status
    if err.code == "model_error" and status == 503:
        return OVERLOADED_STATUS, "overloaded_error", message
    default = "invalid_request_error" if 400 <= status < 500 else "api_error"
    return status, _BY_STATUS.get(status, default), message


def error_body(err: RouterError, *, request_id: str | None = None) -> tuple[int, bytes]:
    """The HTTP status and JSON body of ``err`` in Anthropic's envelope."""
    status, kind, message = classify(err)
    out = ErrorOut(error=ErrorDetail(type=kind, message=message))
    if request_id:
        out.request_id = request_id
    return status, _encode(out)


def error_event(err: RouterError) -> bytes:
    """``err`` as the in-stream ``event: error`` Anthropic sends (then the stream ends)."""
    _, kind, message = classify(err)
    payload = _encode(ErrorOut(error=ErrorDetail(type=kind, message=message)))
    return b"event: error\ndata: " + payload + b"\n\n"


def rfc3339(unix: float) -> str:
    """A Unix time as Anthropic's reset headers write it (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(unix)))


def rate_limit_headers(adm: Admission, now: float) -> dict[str, str]:
    """``anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`` for an
    admitted request (sent beside the router's own); unlimited dimensions are left out."""
    h: dict[str, str] = {}
    if adm.requests_limit is not None:
        h["anthropic-ratelimit-requests-limit"] = str(adm.requests_limit)
        h["anthropic-ratelimit-requests-remaining"] = str(max(0, adm.requests_remaining or 0))
        h["anthropic-ratelimit-requests-reset"] = rfc3339(adm.requests_reset or now)
    if adm.tokens_limit is not None:
        h["anthropic-ratelimit-tokens-limit"] = str(adm.tokens_limit)
        h["anthropic-ratelimit-tokens-remaining"] = str(max(0, adm.tokens_remaining or 0))
        h["anthropic-ratelimit-tokens-reset"] = rfc3339(adm.tokens_reset or now)
    return h


def refusal_rate_limit_headers(
    spec: Limits, retry_after: float | None, now: float
) -> dict[str, str]:
    """Where a refused client stands: its request limit with nothing remaining."""
    limit = spec.rpm if spec.rpm is not None else spec.rpd
    if limit is None:
        return {}
    wait = retry_after if retry_after is not None and math.isfinite(retry_after) else 0.0
    return {
        "anthropic-ratelimit-requests-limit": str(limit),
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": rfc3339(now + min(max(wait, 0.0), 86_400.0)),
    }


def anthropic_headers(router_headers: Mapping[str, str]) -> dict[str, str]:
    """``request-id`` (what Anthropic SDKs read as the request id) from the router's
    ``X-Request-ID``."""
    rid = router_headers.get("X-Request-ID")
    return {"request-id": rid} if rid else {}


__all__ = [
    "OVERLOADED_STATUS",
    "anthropic_headers",
    "classify",
    "error_body",
    "error_event",
    "rate_limit_headers",
    "refusal_rate_limit_headers",
    "rfc3339",
]
