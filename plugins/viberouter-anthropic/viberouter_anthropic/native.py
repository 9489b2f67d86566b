"""Native pass-through of the Messages API: the client's own body upstream, the
upstream's own bytes back, and a usage tap that reads them without changing them.

The body keeps every top-level value byte for byte (each is sliced out of the
client's JSON, never re-encoded): only ``model`` is replaced by the deployment's
model id and router-only fields (``models``, ``transforms``) are removed. So
cache_control, thinking blocks and their signatures, citations, documents and
server tools reach Anthropic exactly as the client sent them.

Headers: the provider's own (credentials, configured betas), with the client's
``anthropic-version`` winning over the configured one and the client's
``anthropic-beta`` names added to the configured ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from router_core.plugin_api import (
    InvalidRequest,
    ModelError,
    UpstreamEvent,
    Usage,
)

from .errors import error_for
from .mapping import merge_usage, usage_from
from .wire import (
    AnthropicUsage,
    ErrorEnvelope,
    EventType,
    MessageDelta,
    MessageResponse,
    MessageStart,
)

Endpoint = Literal["messages", "count_tokens"]

#: Upstream path per endpoint of the dialect.
PATHS: dict[str, str] = {
    "messages": "/v1/messages",
    "count_tokens": "/v1/messages/count_tokens",
}
#: VibeRouter's own request fields; Anthropic would reject them as extra inputs.
ROUTER_ONLY_FIELDS = frozenset({"models", "transforms"})

_fields_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encode = msgspec.json.Encoder().encode
_type_decoder = msgspec.json.Decoder(EventType)
_message_decoder = msgspec.json.Decoder(MessageResponse)
_start_decoder = msgspec.json.Decoder(MessageStart)
_delta_decoder = msgspec.json.Decoder(MessageDelta)
_error_decoder = msgspec.json.Decoder(ErrorEnvelope)

#: Stream events that carry (or close) content: the first one commits the stream.
CONTENT_EVENTS = frozenset({"content_block_start", "content_block_delta", "content_block_stop"})


def native_body(body: bytes, model: str) -> bytes:
    """The client's JSON object with ``model`` replaced and router-only fields removed;
    every other value keeps its exact bytes (and its place)."""
    try:
        fields = _fields_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidRequest(f"The request body must be a JSON object: {exc}") from exc
    parts: list[bytes] = []
    for key, raw in fields.items():
        if key in ROUTER_ONLY_FIELDS:
            continue
        value = _encode(model) if key == "model" else bytes(raw)
        parts.append(_encode(key) + b":" + value)
    if "model" not in fields:
        parts.insert(0, b'"model":' + _encode(model))
    return b"{" + b",".join(parts) + b"}"


def _betas(*values: str) -> str:
    seen: dict[str, None] = {}
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name:
                seen.setdefault(name, None)
    return ",".join(seen)


def native_headers(
    base: Mapping[str, str], client: Mapping[str, str], overrides: Mapping[str, str]
) -> dict[str, str]:
    """The upstream headers: ``base`` (content type, version, key, configured betas),
    the client's ``anthropic-version`` and ``anthropic-beta`` merged in, then the
    operator's ``overrides``. ``client`` names must be lower case."""
    headers = dict(base)
    version = client.get("anthropic-version")
    if version:
        headers["anthropic-version"] = version
    beta = _betas(headers.get("anthropic-beta", ""), client.get("anthropic-beta", ""))
    if beta:
        headers["anthropic-beta"] = beta
    headers.update(overrides)
    return headers


class AnthropicUsageTap:
    """Reads usage and the stop reason from a relayed Messages API answer.

    Streams: ``message_start`` and ``message_delta`` are decoded (usage is
    cumulative, the latest count wins); content events are only recognised by name,
    so the bulk of a stream costs a string comparison. An ``error`` event raises its
    RouterError (before the stream is committed that still fails over).
    """

    __slots__ = ("_finished", "_started", "_usage", "stop_reason")

    def __init__(self) -> None:
        self._usage = AnthropicUsage()
        self._started = False
        self._finished = False
        self.stop_reason: str | None = None

    def feed(self, event: UpstreamEvent) -> bool:
        """Read one event; True when it carries content (the stream may commit)."""
        kind = event.event or _decode(_type_decoder, event).type
        if kind in CONTENT_EVENTS:
            return True
        if kind == "message_start":
            self._started = True
            merge_usage(self._usage, _decode(_start_decoder, event).message.usage)
        elif kind == "message_delta":
            delta = _decode(_delta_decoder, event)
            if delta.delta.stop_reason is not None:
                self.stop_reason = delta.delta.stop_reason
            merge_usage(self._usage, delta.usage)
        elif kind == "message_stop":
            if not self._started:
                raise ModelError(
                    "The model provider sent an empty stream",
                    detail="anthropic stream: message_stop without message_start",
                )
            self._finished = True
            return True
        elif kind == "error":
            raise error_for(_decode(_error_decoder, event).error)
        return False

    def close(self) -> None:
        """The body ended; ``ModelError`` if it ended before ``message_stop``."""
        if not self._finished:
            raise ModelError(
                "The model provider's stream ended early",
                detail="anthropic stream ended without message_stop",
            )

    def read_body(self, body: bytes) -> None:
        """Read a whole JSON answer (non-streaming create)."""
        message = _decode_body(body)
        self._started = self._finished = True
        self.stop_reason = message.stop_reason
        merge_usage(self._usage, message.usage)

    def usage(self) -> Usage | None:
        """The usage read so far in canonical form, ``None`` before any was seen."""
        return usage_from(self._usage) if self._started else None


def _decode(decoder: msgspec.json.Decoder[Any], event: UpstreamEvent) -> Any:
    try:
        return decoder.decode(event.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed stream event",
            detail=f"anthropic {event.event or 'event'}: {exc}",
        ) from exc


def _decode_body(body: bytes) -> MessageResponse:
    try:
        return _message_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError(
            "The model provider sent a malformed response", detail=f"anthropic: {exc}"
        ) from exc


__all__ = [
    "CONTENT_EVENTS",
    "PATHS",
    "ROUTER_ONLY_FIELDS",
    "AnthropicUsageTap",
    "Endpoint",
    "native_body",
    "native_headers",
]
