"""The whole error tree. Each class knows its HTTP status and public code.

RouterError
├── InvalidRequest            400 invalid_request   (413/404/405 for size, path, method)
├── InvalidModel              400 invalid_model     (404 on GET /v1/models/{id})
├── ContextLengthExceeded     400 context_length_exceeded
├── ContentFilter             400 content_filter
├── InvalidApiKey             401 invalid_api_key
├── ExpiredApiKey             401 expired_api_key
├── AccountNotActive          401 account_not_active
├── RateLimitExceeded         429 rate_limit_exceeded
│   └── UpstreamRateLimited   429 rate_limit_exceeded (the provider limited us; retryable)
├── QuotaExceeded             429 quota_exceeded     (never worth retrying)
├── ConcurrentRequests        429 concurrent_requests
├── ServerError               500 server_error       (our bug; detail only in logs)
│   └── ShuttingDown          503 server_error       (cut at the drain deadline; Retry-After)
├── ModelError                502 model_error        (the upstream failed or answered garbage)
└── UpstreamTimeout           504 timeout

``message`` is what the client sees; ``detail`` is for the operator's log only.
``retryable`` tells the dispatcher whether another attempt (same or next deployment)
may succeed; ``retry_after`` (seconds) feeds Retry-After headers and backoff.
"""

from __future__ import annotations

from typing import ClassVar


class RouterError(Exception):
    """Base of every error the router turns into ``{"error": code, "message": ...}``."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "server_error"
    default_message: ClassVar[str] = "Internal server error"
    default_retryable: ClassVar[bool] = False
    #: ``x-should-retry`` when it does not follow from the status and Retry-After
    #: (see client_should_retry); None: it does.
    should_retry: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        detail: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.detail = detail
        self.http_status = status or self.status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        self.headers = headers or {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, status={self.http_status})"


class InvalidRequest(RouterError):
    status = 400
    code = "invalid_request"
    default_message = "Invalid request"


class InvalidModel(RouterError):
    status = 400
    code = "invalid_model"
    default_message = "The model does not exist"


class ContextLengthExceeded(RouterError):
    status = 400
    code = "context_length_exceeded"
    default_message = "The prompt and requested output exceed the model's context length"


class ContentFilter(RouterError):
    status = 400
    code = "content_filter"
    default_message = "The content was blocked by a content filter"


class InvalidApiKey(RouterError):
    status = 401
    code = "invalid_api_key"
    default_message = "Invalid API key"


class ExpiredApiKey(RouterError):
    status = 401
    code = "expired_api_key"
    default_message = "The API key has expired"


class AccountNotActive(RouterError):
    status = 401
    code = "account_not_active"
    default_message = "The account is not active"


class RateLimitExceeded(RouterError):
    status = 429
    code = "rate_limit_exceeded"
    default_message = "Rate limit exceeded"
    default_retryable = True


class UpstreamRateLimited(RateLimitExceeded):
    default_message = "The model provider is rate limiting requests; try again shortly"


class QuotaExceeded(RouterError):
    status = 429
    code = "quota_exceeded"
    default_message = "Quota exceeded"
    #: Waiting helps only when the quota period ends: SDKs must not retry.
    should_retry: ClassVar[bool | None] = False


class RequestTooLarge(RouterError):
    """429 rate_limit_exceeded for a request that can never fit the key's tokens-per-
    minute limit, however long it waits (OpenAI answers "Request too large" the same way)."""

    status = 429
    code = "rate_limit_exceeded"
    default_message = "Request too large for the tokens-per-minute limit"
    should_retry: ClassVar[bool | None] = False


class ConcurrentRequests(RouterError):
    status = 429
    code = "concurrent_requests"
    default_message = "Too many concurrent requests"
    default_retryable = True


class ServerError(RouterError):
    status = 500
    code = "server_error"
    default_message = "Internal server error"


class ShuttingDown(ServerError):
    """The process is stopping and this request ran past its drain deadline."""

    status = 503
    default_message = "The router is shutting down; retry the request"
    default_retryable = True

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message,
            detail="cut at the drain deadline",
            retry_after=1.0,
            headers={"Retry-After": "1"},
        )


class ModelError(RouterError):
    status = 502
    code = "model_error"
    default_message = "The model provider failed to answer"
    default_retryable = True


class UpstreamTimeout(RouterError):
    status = 504
    code = "timeout"
    default_message = "The model provider did not answer in time"
    default_retryable = True


ALL_CODES: dict[str, int] = {
    cls.code: cls.status
    for cls in (
        InvalidRequest,
        InvalidModel,
        ContextLengthExceeded,
        ContentFilter,
        InvalidApiKey,
        ExpiredApiKey,
        AccountNotActive,
        RateLimitExceeded,
        QuotaExceeded,
        ConcurrentRequests,
        ServerError,
        ModelError,
        UpstreamTimeout,
    )
}

__all__ = [
    "ALL_CODES",
    "AccountNotActive",
    "ConcurrentRequests",
    "ContentFilter",
    "ContextLengthExceeded",
    "ExpiredApiKey",
    "InvalidApiKey",
    "InvalidModel",
    "InvalidRequest",
    "ModelError",
    "QuotaExceeded",
    "RateLimitExceeded",
    "RouterError",
    "ServerError",
    "ShuttingDown",
    "UpstreamRateLimited",
    "UpstreamTimeout",
]


def client_should_retry(err: RouterError) -> bool:
    """What ``x-should-retry`` tells an SDK: true only where waiting helps, which the
    router knows because it computed a Retry-After (a rate-limit window, a state backend
    or upstream that said when, a drain); false for invalid input, auth, an exhausted
    quota, a request too large for its limit, and a model failure that survived the
    router's own retries and fallbacks (an SDK's retries on top would multiply calls)."""
    if err.should_retry is not None:
        return err.should_retry
    return err.retry_after is not None and err.http_status in (429, 503)
