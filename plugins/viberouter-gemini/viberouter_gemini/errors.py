"""Google RPC error envelopes -> the router's error tree.

Upstream errors are classified by HTTP status, the RPC ``status`` and structured
``details`` (``ErrorInfo.reason``, ``RetryInfo.retryDelay``). The one exception is
context overflow, which Gemini reports only as an INVALID_ARGUMENT message; that
check is isolated in :func:`is_context_overflow`.
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
)

from .wire import ERROR_DECODER, RpcError

_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY = "type.googleapis.com/google.rpc.RetryInfo"
# ErrorInfo reasons that mean the operator's key is wrong, whatever the status.
_KEY_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})


def decode_rpc_error(body: bytes) -> RpcError:
    """The error status in a body, or an empty one carrying the raw text."""
    try:
        doc = ERROR_DECODER.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return RpcError(message=body[:500].decode("utf-8", "replace"))
    envelope = doc[0] if isinstance(doc, list) and doc else doc
    err = getattr(envelope, "error", None)
    return err if isinstance(err, RpcError) else RpcError()


def map_error(status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
    """The RouterError for a non-2xx Gemini answer."""
    return error_for(status, decode_rpc_error(body), headers)


def error_for(status: int, err: RpcError, headers: Mapping[str, str]) -> RouterError:
    """Classify one RPC error (HTTP status, or ``error.code`` for in-stream errors)."""
    detail = f"gemini {status} {err.status}: {err.message}"
    reasons = {d.get("reason") for d in err.details if d.get("@type") == _INFO}
    if status in (401, 403) or reasons & _KEY_REASONS:
        return ModelError(
            "The model provider rejected the router's credentials; the operator must fix "
            "the provider configuration",
            detail=detail,
            retryable=False,
        )
    if status == 429:
        return UpstreamRateLimited(
            detail=detail, retry_after=retry_after_seconds(headers) or _retry_delay(err)
        )
    if status == 404:
        return ModelError("The model was not found upstream", detail=detail, retryable=False)
    if status in (408, 504):
        return UpstreamTimeout(detail=detail)
    if status == 413:
        return InvalidRequest("The request is too large for the model provider", detail=detail)
    if err.status == "FAILED_PRECONDITION":
        # e.g. billing not enabled or region not served: the operator's account, not
        # the client's request, and another deployment may well succeed.
        return ModelError(
            "The model provider refused the operator's account", detail=detail, retryable=False
        )
    if 400 <= status < 500:
        if is_context_overflow(err.message):
            return ContextLengthExceeded(detail=detail)
        return InvalidRequest(
            f"The model provider rejected the request: {err.message}", detail=detail
        )
    return ModelError(detail=detail, retry_after=retry_after_seconds(headers))


def is_context_overflow(message: str) -> bool:
    """Whether an INVALID_ARGUMENT message reports too many input tokens.

    Gemini has no error code or detail for this; its message ("The input token count
    (N) exceeds the maximum number of tokens allowed (M).") is the only signal.
    """
    text = message.lower()
    return "token" in text and "exceeds the maximum" in text


def _retry_delay(err: RpcError) -> float | None:
    """RetryInfo's ``retryDelay`` (a protobuf Duration string such as ``"37s"``)."""
    for d in err.details:
        delay = d.get("retryDelay")
        if d.get("@type") == _RETRY and isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
    return None
