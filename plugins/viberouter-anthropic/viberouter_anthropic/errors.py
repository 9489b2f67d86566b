"""Anthropic failures (HTTP error bodies and in-stream ``error`` events) -> RouterError.

Classification is by HTTP status and Anthropic's ``error.type``; the message text
is read in exactly one place (:func:`_is_prompt_too_long`), where it is the only
signal Anthropic gives.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from router_core.plugin_api import (
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    UpstreamTimeout,
    retry_after_seconds,
    upstream_message,
)

from .wire import ErrorEnvelope, ErrorInfo

_envelope_decoder = msgspec.json.Decoder(ErrorEnvelope)

_OPERATOR_KEY_MESSAGE = (
    "The model provider rejected the router's Anthropic credentials; the operator must "
    "fix the provider's API key or permissions"
)
_OVERLOADED_MESSAGE = "The model provider (Anthropic) is overloaded; try again shortly"
_CONTEXT_MESSAGE = "The prompt is too long for the model's context window"

#: status -> error.type Anthropic documents for it; used when the body is not JSON
#: (e.g. a 413 from the CDN in front of the API).
_TYPE_FOR_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _is_prompt_too_long(message: str) -> bool:
    # Anthropic reports context overflow as a plain 400 invalid_request_error; the
    # wording is the only thing that tells it apart from other bad requests.
    text = message.lower()
    return "prompt is too long" in text or ("exceed context limit" in text and "max_tokens" in text)


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """The ``error`` object of an Anthropic error body (best effort)."""
    try:
        info = _envelope_decoder.decode(body).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        info = ErrorInfo()
    if not info.type:
        info.type = _TYPE_FOR_STATUS.get(status, "")
    if not info.message:
        info.message = upstream_message(body)
    return info


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
    """The RouterError for a non-2xx Messages API answer."""
    return error_for(decode_error(status, body), status=status, headers=headers)


def error_for(
    info: ErrorInfo, *, status: int | None = None, headers: Mapping[str, str] | None = None
) -> RouterError:
    """Classify an Anthropic error; ``status`` is ``None`` for in-stream ``error`` events."""
    where = "in-stream" if status is None else f"status {status}"
    detail = f"anthropic {info.type or 'error'} ({where}): {info.message}"
    retry_after = retry_after_seconds(headers or {})
    kind = info.type
    if status == 429 or kind == "rate_limit_error":
        return UpstreamRateLimited(detail=detail, retry_after=retry_after)
    if status in (408, 504) or kind == "timeout_error":
        return UpstreamTimeout(detail=detail)
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return ModelError(_OPERATOR_KEY_MESSAGE, detail=detail, retryable=False)
    if status == 402 or kind == "billing_error":
        return ModelError(
            "The model provider refused the router's Anthropic account (billing); the "
            "operator must fix it",
            detail=detail,
            retryable=False,
        )
    if status == 404 or kind == "not_found_error":
        return ModelError(
            "The model provider does not know the configured model; the operator must "
            "fix the deployment",
            detail=detail,
            retryable=False,
        )
    if status == 413 or kind == "request_too_large":
        return InvalidRequest("The request is too large for the model provider", detail=detail)
    if status == 529 or kind == "overloaded_error":
        # 503: the provider is unavailable right now, not broken (clients of the
        # Anthropic dialect get it back as 529 overloaded_error).
        return ModelError(_OVERLOADED_MESSAGE, detail=detail, retry_after=retry_after, status=503)
    if kind == "invalid_request_error" or (status is not None and 400 <= status < 500):
        if _is_prompt_too_long(info.message):
            return ContextLengthExceeded(_CONTEXT_MESSAGE, detail=detail)
        return InvalidRequest(
            f"The model provider rejected the request: {info.message}", detail=detail
        )
    # 500, 502, 503, unknown statuses and unknown in-stream error types.
    return ModelError(detail=detail, retry_after=retry_after)


__all__ = ["decode_error", "error_for", "map_error"]
