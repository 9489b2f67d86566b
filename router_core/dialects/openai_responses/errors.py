"""Errors in OpenAI's nested shape ``{"error": {"message", "type", "param", "code"}}``,
which is what Responses clients (the SDKs, Codex, the AI SDK) parse."""

from __future__ import annotations

from router_core.dialects.openai_responses.wire import OpenAIErrorBody, OpenAIErrorDetail
from router_core.errors import InvalidRequest, RouterError

# Router code -> (OpenAI error type, OpenAI error code), after OpenAI's own answers.
_SHAPES: dict[str, tuple[str, str | None]] = {
    "invalid_request": ("invalid_request_error", None),
    "invalid_model": ("invalid_request_error", "model_not_found"),
    "context_length_exceeded": ("invalid_request_error", "context_length_exceeded"),
    "content_filter": ("invalid_request_error", "content_filter"),
    "invalid_api_key": ("invalid_request_error", "invalid_api_key"),
    "expired_api_key": ("invalid_request_error", "invalid_api_key"),
    "account_not_active": ("invalid_request_error", "account_deactivated"),
    "rate_limit_exceeded": ("requests", "rate_limit_exceeded"),
    "quota_exceeded": ("insufficient_quota", "insufficient_quota"),
    "concurrent_requests": ("requests", "rate_limit_exceeded"),
    "server_error": ("server_error", "server_error"),
    "model_error": ("server_error", "server_error"),
    "timeout": ("server_error", "timeout"),
}


class ResponsesInvalid(InvalidRequest):
    """400 ``invalid_request`` that also names the offending parameter (``param``) and,
    where OpenAI has one, its specific code (``not_found``, ``previous_response_not_found``)."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.param = param
        self.openai_code = code


def error_detail(err: RouterError) -> OpenAIErrorDetail:
    """The inner ``error`` object for ``err``."""
    kind, code = _SHAPES.get(err.code, ("server_error", err.code))
    param = None
    if isinstance(err, ResponsesInvalid):
        param = err.param
        code = err.openai_code or code
    return OpenAIErrorDetail(message=err.message, type=kind, param=param, code=code or err.code)


def error_body(err: RouterError) -> OpenAIErrorBody:
    """The whole error body for ``err``."""
    return OpenAIErrorBody(error=error_detail(err))


__all__ = ["ResponsesInvalid", "error_body", "error_detail"]
