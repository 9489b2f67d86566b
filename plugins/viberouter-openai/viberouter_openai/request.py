"""Canonical request -> OpenAI ``POST {base_url}/chat/completions``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from router_core.plugin_api import ChatRequest, Deployment, Message, UpstreamRequest, json_encode
from viberouter_openai.extensions import without_extensions
from viberouter_openai.settings import OpenAISettings

# Usage is always requested when streaming: the router accounts for every stream,
# whether or not the client asked to see the usage chunk.
_ALWAYS_USAGE = {"include_usage": True}
_USAGE_ONLY = b',"stream_options":' + json_encode(_ALWAYS_USAGE)
_encode = msgspec.json.Encoder().encode
_REQUEST_FIELDS = frozenset(ChatRequest.__struct_fields__)
_UNSET = msgspec.UNSET


#: The URL and the header set of a chat request, streamed or not.
Endpoint = tuple[str, Mapping[str, str]]


def chat_endpoints(settings: OpenAISettings) -> tuple[Endpoint, Endpoint]:
    """The chat URL and headers for a plain and a streamed request: the same for every
    request of a provider, so the provider builds them once (read-only headers)."""
    url = settings.base_url.rstrip("/") + "/chat/completions"
    return (
        (url, MappingProxyType(request_headers(settings, stream=False))),
        (url, MappingProxyType(request_headers(settings, stream=True))),
    )


def build_upstream_request(
    settings: OpenAISettings,
    request: ChatRequest,
    deployment: Deployment,
    extras: msgspec.Struct | None,
    endpoints: tuple[Endpoint, Endpoint] | None = None,
) -> UpstreamRequest:
    """The HTTP request for one canonical chat request (``endpoints``: the provider's
    :func:`chat_endpoints`, built from ``settings`` when not given)."""
    if not settings.forward_extensions:
        request = without_extensions(request)
    stream = request.stream
    url, headers = (endpoints or chat_endpoints(settings))[1 if stream else 0]
    return UpstreamRequest(
        method="POST",
        url=url,
        headers=headers,
        body=encode_request_body(request, deployment.model, extras),
        framing="sse" if stream else "json",
    )


def request_headers(settings: OpenAISettings, *, stream: bool) -> dict[str, str]:
    """Content type, credentials, organisation/project, then the operator's own headers."""
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
    }
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    if settings.organization:
        headers["OpenAI-Organization"] = settings.organization
    if settings.project:
        headers["OpenAI-Project"] = settings.project
    headers.update(settings.headers)
    return headers


def request_body(request: ChatRequest, model: str, extras: msgspec.Struct | None) -> dict[str, Any]:
    """The request as OpenAI expects it: upstream model id, no router-only fields,
    ``stream_options`` only when streaming (and then always with usage), extras merged."""
    body: dict[str, Any] = msgspec.to_builtins(
        msgspec.structs.replace(
            request, model=model, models=None, transforms=None, stream_options=None
        )
    )
    if request.stream:
        options = msgspec.to_builtins(request.stream_options) if request.stream_options else {}
        body["stream_options"] = {**options, **_ALWAYS_USAGE}
    for message in body["messages"]:
        # Some OpenAI-compatible servers require the key; OpenAI accepts null next to tool_calls.
        if message.get("role") == "assistant" and "tool_calls" in message:
            message.setdefault("content", None)
    if extras is not None:
        set_extras = msgspec.to_builtins(extras)
        body.update((k, v) for k, v in set_extras.items() if v is not None)
    return body


def encode_request_body(request: ChatRequest, model: str, extras: msgspec.Struct | None) -> bytes:
    """``json_encode(request_body(...))`` byte for byte, without the builtins round trip:
    the request Struct is encoded once and the keys ``request_body`` appends at the
    end (``stream_options``, extras) are spliced in before the closing brace."""
    tail = b""
    if request.stream:
        options = request.stream_options
        if options:
            merged = {**msgspec.to_builtins(options), **_ALWAYS_USAGE}
            tail = b',"stream_options":' + _encode(merged)
        else:
            tail = _USAGE_ONLY
    if extras is not None:
        set_extras = msgspec.to_builtins(extras)
        if set_extras:
            if not _REQUEST_FIELDS.isdisjoint(set_extras):
                # An extra replacing a request field keeps that field's position.
                return _encode(request_body(request, model, extras))
            for key, value in set_extras.items():
                if value is not None:
                    tail += b"," + _encode(key) + b":" + _encode(value)
    messages: list[Any] = request.messages
    for i, message in enumerate(messages):
        if message.role == "assistant" and _needs_null_content(message):
            messages = _null_contents(messages, i)
            break
    body = _encode(
        msgspec.structs.replace(
            request,
            model=model,
            messages=messages,
            models=None,
            transforms=None,
            stream_options=None,
        )
    )
    return body[:-1] + tail + b"}" if tail else body


def _needs_null_content(message: Message) -> bool:
    # Some OpenAI-compatible servers require the key; OpenAI accepts null next to tool_calls.
    return (
        message.role == "assistant" and message.tool_calls is not _UNSET and message.content is None
    )


def _null_contents(messages: list[Any], first: int) -> list[Any]:
    """``messages`` with each turn from ``first`` on that needs it pre-encoded exactly as
    ``request_body`` shapes it: its own keys (``role`` always first), then
    ``"content":null`` appended."""
    out = messages[:first]
    for message in messages[first:]:
        if _needs_null_content(message):
            out.append(msgspec.Raw(_encode(message)[:-1] + b',"content":null}'))
        else:
            out.append(message)
    return out
