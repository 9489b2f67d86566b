"""Upstream failures -> RouterErrors, from the status and the error envelope's fields.

Reads OpenAI's ``{"error": {"message", "type", "param", "code"}}`` (``code`` a string),
OpenRouter's ``{"error": {"code": <int>, "message", "metadata": {"error_type"}}}`` and
plain ``{"error": "text"}`` bodies. Classification uses status, ``code`` and ``type``,
never the wording of the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from router_core.plugin_api import (
    ContentFilter,
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    UpstreamTimeout,
    retry_after_seconds,
)

_MESSAGE_LIMIT = 500
_decoder = msgspec.json.Decoder()

_KEY_MESSAGE = (
    "The model provider rejected the router's credentials; the operator must fix the "
    "provider's API key or permissions"
)
_QUOTA_MESSAGE = "The operator's account with the model provider has run out of credit or quota"
_MODEL_MESSAGE = (
    "The model provider does not offer the configured model; the operator must fix the deployment"
)
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_QUOTA_CODES = frozenset({"insufficient_quota", "payment_required"})
_KEY_CODES = frozenset({"invalid_api_key", "authentication", "permission_denied"})


@dataclass(frozen=True, slots=True)
class Fault:
    """What an upstream error envelope says."""

    message: str
    code: str | None = None
    type: str | None = None
    status: int | None = None  # a numeric ``code`` (OpenRouter)

    def describe(self, status: int | None) -> str:
        """The operator-facing detail line."""
        parts = [f"upstream status {status}" if status else "upstream error in stream"]
        if self.type:
            parts.append(f"type={self.type}")
        if self.code:
            parts.append(f"code={self.code}")
        return ", ".join(parts) + f": {self.message}"


def fault_from_body(body: bytes) -> Fault:
    """Read an error body; text that is not JSON becomes the message."""
    try:
        doc = _decoder.decode(body)
    except msgspec.DecodeError:
        return Fault(body[:_MESSAGE_LIMIT].decode("utf-8", "replace").strip())
    return fault_from_payload(doc.get("error", doc) if isinstance(doc, dict) else doc)


def fault_from_payload(error: Any) -> Fault:
    """Read the value of an ``error`` key (object or string)."""
    if isinstance(error, str):
        return Fault(error[:_MESSAGE_LIMIT])
    if not isinstance(error, dict):
        return Fault(str(error)[:_MESSAGE_LIMIT])
    message = error.get("message")
    raw_code = error.get("code")
    kind = error.get("type")
    code = raw_code if isinstance(raw_code, str) else None
    status = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    metadata = error.get("metadata")
    if code is None and isinstance(metadata, dict):
        error_type = metadata.get("error_type")
        code = error_type if isinstance(error_type, str) else None
    return Fault(
        message=(message if isinstance(message, str) else "")[:_MESSAGE_LIMIT],
        code=code,
        type=kind if isinstance(kind, str) else None,
        status=status,
    )


# Azure OpenAI and compatible servers refuse flagged prompts with these codes.
_SAFETY_CODES = frozenset({"content_filter", "content_policy_violation"})


def error_for(status: int | None, fault: Fault, headers: Mapping[str, str]) -> RouterError:
    """Classify one upstream failure; ``status`` is None for an in-band stream error."""
    status = status or fault.status
    detail = fault.describe(status)
    lowered = {k.lower(): v for k, v in headers.items()}
    retry_after = retry_after_seconds(lowered)
    markers = {fault.code, fault.type}
    if markers & _CONTEXT_CODES:
        return ContextLengthExceeded(detail=detail)
    if markers & _SAFETY_CODES:
        return ContentFilter(detail=detail)
    if markers & _QUOTA_CODES or status == 402:
        # The operator's billing problem: another deployment may still answer.
        return ModelError(_QUOTA_MESSAGE, detail=detail, retryable=True)
    if status == 429 or "rate_limit_exceeded" in markers:
        return UpstreamRateLimited(detail=detail, retry_after=retry_after)
    if status in (401, 403) or markers & _KEY_CODES:
        return ModelError(_KEY_MESSAGE, detail=detail, retryable=False)
    if status in (408, 504):
        return UpstreamTimeout(detail=detail, retry_after=retry_after)
    if status == 404:
        return ModelError(_MODEL_MESSAGE, detail=detail, retryable=True)
    if status == 413:
        return InvalidRequest("The request is too large for the model provider", detail=detail)
    if status is not None and 400 <= status < 500:
        text = fault.message or f"HTTP {status}"
        return InvalidRequest(f"The model provider rejected the request: {text}", detail=detail)
    return ModelError(detail=detail, retryable=True, retry_after=retry_after)
