"""Reverse API failures -> the router's errors.

Classify by the error body's ``code`` first (it says more than the status), then fall
back to the status with the core's ``error_for_status``.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from router_core.plugin_api import (
    ContextLengthExceeded,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    error_for_status,
    retry_after_seconds,
    upstream_message,
)

from viberouter_reverse import wire


def error_for(status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
    """The RouterError for a non-2xx answer."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        doc = wire.error_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        # Not the API's error shape (a proxy's HTML page ...): the status decides.
        return error_for_status(status, lowered, upstream_message(body))
    detail = f"upstream status {status} {doc.code}: {doc.message}"
    if doc.code == "too_long":
        return ContextLengthExceeded(detail=detail)
    if doc.code == "rate_limited":
        return UpstreamRateLimited(detail=detail, retry_after=retry_after_seconds(lowered))
    if doc.code == "bad_key":
        # Our key, not the client's: the operator must fix the provider config.
        return ModelError(
            "The model provider rejected the router's credentials",
            detail=detail,
            retryable=False,
        )
    return error_for_status(status, lowered, doc.message or doc.code)


def stream_failure(event: wire.Failure) -> RouterError:
    """The RouterError for an in-band ``error`` line of a stream."""
    detail = f"upstream error in stream {event.code}: {event.message}"
    if event.code == "rate_limited":
        return UpstreamRateLimited(detail=detail)
    return ModelError(detail=detail)
