"""OpenAI's nested error shape ``{"error": {"message", "type", "param", "code"}}``: what
the OpenAI SDKs, the AI SDK and LiteLLM parse (``str(e)`` shows the message, ``e.code``
the code). The Responses dialect always answers in it; the chat dialect does with
``server.error_format = "openai"``. Codes and statuses stay the router's."""

from __future__ import annotations

from msgspec import Struct

from router_core.errors import RouterError


class OpenAIErrorDetail(Struct):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(Struct):
    """``{"error": {"message", "type", "param", "code"}}``."""

    error: OpenAIErrorDetail


#: Router code -> OpenAI error type (``error.type``), after OpenAI's own answers.
TYPES: dict[str, str] = {
    "invalid_request": "invalid_request_error",
    "invalid_model": "invalid_request_error",
    "context_length_exceeded": "invalid_request_error",
    "content_filter": "invalid_request_error",
    "invalid_api_key": "invalid_request_error",
    "expired_api_key": "invalid_request_error",
    "account_not_active": "invalid_request_error",
    "rate_limit_exceeded": "requests",
    "quota_exceeded": "insufficient_quota",
    "concurrent_requests": "requests",
    "server_error": "server_error",
    "model_error": "server_error",
    "timeout": "server_error",
}

#: Where OpenAI's own API names a failure differently and its clients check the name
#: (the Responses API's ``error.code`` is one of a fixed set); the chat dialect keeps
#: the router's codes.
OPENAI_CODES: dict[str, str] = {
    "invalid_model": "model_not_found",
    "expired_api_key": "invalid_api_key",
    "account_not_active": "account_deactivated",
    "quota_exceeded": "insufficient_quota",
    "concurrent_requests": "rate_limit_exceeded",
    "model_error": "server_error",
}


def openai_error(
    err: RouterError, *, param: str | None = None, code: str | None = None
) -> OpenAIErrorBody:
    """The nested body for ``err``: its message, its type, and ``code`` (default the
    router's code)."""
    return OpenAIErrorBody(
        error=OpenAIErrorDetail(
            message=err.message,
            type=TYPES.get(err.code, "server_error"),
            param=param,
            code=code or err.code,
        )
    )
