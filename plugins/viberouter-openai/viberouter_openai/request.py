"""Canonical request -> OpenAI ``POST {base_url}/chat/completions``."""

from __future__ import annotations

from typing import Any

import msgspec

from router_core.plugin_api import ChatRequest, Deployment, UpstreamRequest, json_encode
from viberouter_openai.settings import OpenAISettings

# Usage is always requested when streaming: the router accounts for every stream,
# whether or not the client asked to see the usage chunk.
_ALWAYS_USAGE = {"include_usage": True}


def build_upstream_request(
    settings: OpenAISettings,
    request: ChatRequest,
    deployment: Deployment,
    extras: msgspec.Struct | None,
) -> UpstreamRequest:
    """The HTTP request for one canonical chat request."""
    return UpstreamRequest(
        method="POST",
        url=settings.base_url.rstrip("/") + "/chat/completions",
        headers=request_headers(settings, stream=request.stream),
        body=json_encode(request_body(request, deployment.model, extras)),
        framing="sse" if request.stream else "json",
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
