"""Canonical (OpenAI-shaped) request -> Reverse API request.

Refuse what the Reverse API cannot do, naming the field, instead of dropping it: the
core then tries the route's next deployment, or answers 400 invalid_request.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from router_core.plugin_api import (
    ChatRequest,
    Deployment,
    InvalidRequest,
    Message,
    TextPart,
    UpstreamRequest,
)

from viberouter_reverse import wire
from viberouter_reverse.settings import ReverseExtras, ReverseSettings

_ROLES: dict[str, Literal["system", "user", "bot"]] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "bot",
}


def build_upstream_request(
    settings: ReverseSettings,
    request: ChatRequest,
    deployment: Deployment,
    extras: msgspec.Struct | None,
) -> UpstreamRequest:
    """The HTTP request for ``request`` on ``deployment``."""
    if request.tools and request.tool_choice != "none":
        raise InvalidRequest("tools: the Reverse API does not call tools")
    if request.n is not None and request.n > 1:
        raise InvalidRequest("n: the Reverse API returns one choice")
    mode: Literal["words", "letters"] = "words"
    if isinstance(extras, ReverseExtras) and extras.reverse_mode is not None:
        mode = extras.reverse_mode
    body = wire.Request(
        model=deployment.model,
        turns=[_turn(i, m) for i, m in enumerate(request.messages)],
        stream=request.stream,
        max_words=request.max_completion_tokens or request.max_tokens,
        mode=mode,
    )
    headers = {"content-type": "application/json"}
    if request.stream:
        headers["accept"] = "application/x-ndjson"
    if settings.api_key:
        headers["x-api-key"] = settings.api_key
    return UpstreamRequest(
        method="POST",
        url=settings.base_url.rstrip("/") + "/v1/reverse",
        headers=headers,
        body=wire.request_encoder.encode(body),
        framing="ndjson" if request.stream else "json",
    )


def _turn(index: int, message: Message) -> wire.Turn:
    role = _ROLES.get(message.role)
    if role is None:
        raise InvalidRequest(f"messages[{index}].role: the Reverse API has no {message.role!r}")
    return wire.Turn(from_=role, text=_text(index, message))


def _text(index: int, message: Message) -> str:
    content = message.content
    if content is None or isinstance(content, str):
        return content or ""
    texts: list[str] = []
    for part in content:
        if not isinstance(part, TextPart):
            raise InvalidRequest(f"messages[{index}].content: the Reverse API reads text only")
        texts.append(part.text)
    return "\n".join(texts)
