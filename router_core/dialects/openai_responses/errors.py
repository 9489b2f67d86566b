"""Errors in OpenAI's nested shape ``{"error": {"message", "type", "param", "code"}}``,
which is what Responses clients (the SDKs, Codex, the AI SDK) parse."""

from __future__ import annotations

from router_core.api.openai_errors import (
    OPENAI_CODES,
    OpenAIErrorBody,
    OpenAIErrorDetail,
    openai_error,
)
from router_core.errors import InvalidRequest, RouterError


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
    code = OPENAI_CODES.get(err.code, err.code)
    if isinstance(err, ResponsesInvalid):
        return openai_error(err, param=err.param, code=err.openai_code or code).error
    return openai_error(err, code=code).error


def error_body(err: RouterError) -> OpenAIErrorBody:
    """The whole error body for ``err``."""
    return OpenAIErrorBody(error=error_detail(err))


__all__ = ["ResponsesInvalid", "error_body", "error_detail"]
