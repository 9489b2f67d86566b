"""The OpenAPI 3.1 document of the public API, generated from the wire Structs.

msgspec emits JSON Schema 2020-12, which OpenAPI 3.1 uses as is, so the request,
response, chunk and error schemas cannot drift from what the router decodes and
encodes. Paths, statuses and headers are declared here; the document is built
once per app (``openapi_bytes``) and served by handlers/openapi.py.
"""

from __future__ import annotations

from typing import Any

import msgspec

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest, ErrorBody
from router_core.api.embeddings import EmbeddingRequest, EmbeddingResponse
from router_core.api.models import ModelCard, ModelList
from router_core.dialects.anthropic_messages.wire import (
    CountTokensOut,
    ErrorOut,
    MessageOut,
    MessagesRequest,
)
from router_core.dialects.openai_responses.wire import (
    DeletedResponse,
    OpenAIErrorBody,
    Response,
    ResponsesRequest,
)
from router_core.errors import ALL_CODES

OPENAPI_VERSION = "3.1.0"
_REF = "#/components/schemas/{name}"
_encoder = msgspec.json.Encoder(order="deterministic")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _int_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "integer", "minimum": 0}}


def _str_header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


#: Headers of every authenticated answer (present when the key has such a limit).
RATE_LIMIT_HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": _int_header("Requests allowed in the current window."),
    "X-RateLimit-Remaining": _int_header("Requests left in the current window."),
    "X-RateLimit-Reset": _int_header("When the request window resets (Unix time, seconds)."),
    "x-ratelimit-limit-requests": _int_header("Requests allowed (OpenAI naming)."),
    "x-ratelimit-remaining-requests": _int_header("Requests left (OpenAI naming)."),
    "x-ratelimit-reset-requests": _str_header("Time until the request window resets, e.g. 6m0s."),
    "x-ratelimit-limit-tokens": _int_header("Tokens allowed in the current window."),
    "x-ratelimit-remaining-tokens": _int_header("Tokens left in the current window."),
    "x-ratelimit-reset-tokens": _str_header("Time until the token window resets, e.g. 1s."),
    "X-Request-ID": _str_header("The request's id (echoed when the client sent a valid one)."),
}

#: Extra headers of a 429 answer.
RETRY_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": _int_header("Seconds to wait before retrying."),
    "retry-after-ms": _int_header("Milliseconds to wait before retrying."),
    "x-should-retry": _str_header(
        'On every error: "true" where waiting helps (then Retry-After says how long), '
        '"false" where a retry cannot help (invalid input, auth, quota, a request larger '
        "than the key's TPM, a model failure after the router's own retries)."
    ),
}

#: One server-sent event of a streamed completion: a chunk, the final error event, or
#: the ``[DONE]`` sentinel.
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
        "data": {
            "anyOf": [
                {"const": "[DONE]"},
                {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": {"anyOf": [_ref("ChatCompletionChunk"), _ref("ErrorBody")]},
                },
            ]
        },
    },
}

_ERROR_STATUSES: dict[int, str] = {
    400: "invalid_request, invalid_model, context_length_exceeded or content_filter.",
    401: "invalid_api_key, expired_api_key or account_not_active.",
    404: "invalid_model (no such model) or invalid_request (no such endpoint).",
    408: "invalid_request: the request body did not arrive in time.",
    413: "invalid_request: the request body is larger than the router accepts.",
    429: "rate_limit_exceeded, quota_exceeded or concurrent_requests.",
    500: "server_error.",
    502: "model_error: the model provider failed or answered garbage.",
    503: "model_error: no deployment of the model can be tried now (every circuit open "
    "with the panic threshold off) or the provider is overloaded; server_error: the "
    "router's state backend is unavailable or the router is shutting down. Retry after "
    "`Retry-After` seconds.",
    504: "timeout: the model provider did not answer in time.",
    # The Messages API's own statuses for router codes (docs/anthropic-clients.md).
    403: "permission_error (Messages API): account_not_active.",
    529: "overloaded_error (Messages API): no deployment can be tried now, or the "
    "provider is overloaded.",
}

#: Extra headers of a 503 answer.
UNAVAILABLE_HEADERS: dict[str, dict[str, Any]] = {
    "Retry-After": _int_header("Seconds to wait before retrying."),
}


def _error(status: int) -> dict[str, Any]:
    headers = dict(RATE_LIMIT_HEADERS)
    if status == 429:
        headers.update(RETRY_HEADERS)
    elif status == 503:
        headers.update(UNAVAILABLE_HEADERS)
    return {
        "description": _ERROR_STATUSES[status],
        "headers": headers,
        "content": {"application/json": {"schema": _ref("ErrorBody")}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): _error(s) for s in statuses}


def _components() -> dict[str, Any]:
    _, schemas = msgspec.json.schema_components(
        [
            ChatRequest, ChatCompletion, ChatCompletionChunk, ModelList, ModelCard, ErrorBody,
            EmbeddingRequest, EmbeddingResponse, ResponsesRequest, Response, DeletedResponse,
            OpenAIErrorBody, MessagesRequest, MessageOut, CountTokensOut, ErrorOut,
        ],
        ref_template=_REF,
    )  # fmt: skip
    error = dict(schemas["ErrorBody"])
    props = dict(error["properties"])
    # The code is one of a closed set: say so, so clients can switch on it.
    props["error"] = {"type": "string", "enum": sorted(ALL_CODES)}
    error["properties"] = props
    error["additionalProperties"] = False
    schemas["ErrorBody"] = error
    return schemas


def _openai_errors(*statuses: int) -> dict[str, Any]:
    """Error answers in OpenAI's nested shape (the Responses API's)."""
    out = _errors(*statuses)
    for resp in out.values():
        resp["content"] = {"application/json": {"schema": _ref("OpenAIErrorBody")}}
    return out


def _json_ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": RATE_LIMIT_HEADERS,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


_RESPONSE_ID = [
    {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
]


def responses_paths(bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    """``/v1/responses`` and ``/v1/responses/{response_id}``
    (docs/responses-and-embeddings.md)."""
    created = _json_ok(
        "The response object; with `stream: true`, server-sent events, each an `event:` "
        "line naming its type and a `data:` JSON object with a `sequence_number` "
        "(response.created ... response.completed).",
        "Response",
    )
    created["content"]["text/event-stream"] = {"schema": {"type": "object"}}
    by_id = {"security": bearer, "parameters": _RESPONSE_ID}
    return {
        "/v1/responses": {
            "post": {
                "operationId": "createResponse",
                "summary": "Create a response (Responses API; optionally streamed).",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ResponsesRequest")}},
                },
                "responses": {
                    "200": created,
                    **_openai_errors(400, 401, 408, 413, 429, 500, 502, 503, 504),
                },
            }
        },
        "/v1/responses/{response_id}": {
            "get": {
                "operationId": "retrieveResponse",
                "summary": "A stored response (this account's only).",
                **by_id,
                "responses": {
                    "200": _json_ok("The stored response.", "Response"),
                    **_openai_errors(401, 404, 500, 503),
                },
            },
            "delete": {
                "operationId": "deleteResponse",
                "summary": "Delete a stored response.",
                **by_id,
                "responses": {
                    "200": _json_ok("Deleted.", "DeletedResponse"),
                    **_openai_errors(401, 404, 500, 503),
                },
            },
        },
    }


def _embeddings_paths(bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    return {
        "/v1/embeddings": {
            "post": {
                "operationId": "createEmbedding",
                "summary": "Create embeddings (floats or base64).",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("EmbeddingRequest")}},
                },
                "responses": {
                    "200": _json_ok("One embedding per input.", "EmbeddingResponse"),
                    **_errors(400, 401, 408, 413, 429, 500, 502, 503, 504),
                },
            }
        },
    }


def _anthropic_errors(*statuses: int) -> dict[str, Any]:
    """Error answers in Anthropic's envelope (the Messages API's)."""
    out = _errors(*statuses)
    for resp in out.values():
        resp["content"] = {"application/json": {"schema": _ref("ErrorOut")}}
    return out


def messages_paths() -> dict[str, Any]:
    """``/v1/messages`` and ``/v1/messages/count_tokens`` (docs/anthropic-clients.md);
    the key as ``x-api-key`` or a Bearer token, errors in Anthropic's shape."""
    either: list[dict[str, list[str]]] = [{"apiKeyHeader": []}, {"bearerAuth": []}]
    body = {
        "required": True,
        "content": {"application/json": {"schema": _ref("MessagesRequest")}},
    }
    created = _json_ok(
        "The message; with `stream: true`, server-sent events (message_start, "
        "content_block_start / delta / stop, message_delta, message_stop, ping; an error "
        "after the first event is one `event: error`).",
        "MessageOut",
    )
    created["content"]["text/event-stream"] = {"schema": {"type": "object"}}
    statuses = (400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529)
    return {
        "/v1/messages": {
            "post": {
                "operationId": "createMessage",
                "summary": "Create a message (Anthropic Messages API; optionally streamed).",
                "security": either,
                "requestBody": body,
                "responses": {"200": created, **_anthropic_errors(*statuses)},
            }
        },
        "/v1/messages/count_tokens": {
            "post": {
                "operationId": "countMessageTokens",
                "summary": "Count a message request's input tokens.",
                "security": either,
                "requestBody": body,
                "responses": {
                    "200": _json_ok("The count.", "CountTokensOut"),
                    **_anthropic_errors(*statuses),
                },
            }
        },
    }


def build_document(title: str = "VibeRouter", version: str = "1") -> dict[str, Any]:
    """The OpenAPI document as plain data."""
    bearer: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "OpenAI-compatible chat completions behind one API key. Every "
            'error body is `{"error": "<code>", "message": "<text>"}`.',
        },
        "paths": {
            **_chat_paths(bearer),
            **_model_paths(bearer),
            "/v1/openapi.json": {
                "get": {
                    "operationId": "getOpenApi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI 3.1 document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(500),
                    },
                }
            },
            **responses_paths(bearer),
            **_embeddings_paths(bearer),
            **messages_paths(),
        },
        "components": {
            "schemas": _components(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key issued by `viberouter keys create`.",
                },
                "apiKeyHeader": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The same key, as Anthropic clients send it.",
                },
            },
        },
        "security": bearer,
    }


def _chat_paths(bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    chat_ok = {
        "description": "The completion; with `stream: true`, server-sent events: one "
        "`data: <ChatCompletionChunk>` event per chunk, then `data: [DONE]` (an error "
        'after the first event is one `data: {"error": ..., "message": ...}` event).',
        "headers": RATE_LIMIT_HEADERS,
        "content": {
            "application/json": {"schema": _ref("ChatCompletion")},
            "text/event-stream": {"schema": SSE_EVENT},
        },
    }
    return {
        "/v1/chat/completions": {
            "post": {
                "operationId": "createChatCompletion",
                "summary": "Create a chat completion (optionally streamed).",
                "security": bearer,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("ChatRequest")}},
                },
                "responses": {
                    "200": chat_ok,
                    **_errors(400, 401, 408, 413, 429, 500, 502, 503, 504),
                },
            }
        }
    }


def _model_paths(bearer: list[dict[str, list[str]]]) -> dict[str, Any]:
    return {
        "/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "The models this key may use.",
                "security": bearer,
                "responses": {
                    "200": {
                        "description": "The model list.",
                        "headers": RATE_LIMIT_HEADERS,
                        "content": {"application/json": {"schema": _ref("ModelList")}},
                    },
                    **_errors(401, 500, 503),
                },
            }
        },
        "/v1/models/{model_id}": {
            "get": {
                "operationId": "retrieveModel",
                "summary": "One model's card (by name or alias).",
                "security": bearer,
                "parameters": [
                    {
                        "name": "model_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The model card.",
                        "headers": RATE_LIMIT_HEADERS,
                        "content": {"application/json": {"schema": _ref("ModelCard")}},
                    },
                    **_errors(401, 404, 500, 503),
                },
            }
        },
    }


def openapi_bytes(title: str = "VibeRouter", version: str = "1") -> bytes:
    """The document encoded once (deterministic key order, so it is stable)."""
    return _encoder.encode(build_document(title, version))
