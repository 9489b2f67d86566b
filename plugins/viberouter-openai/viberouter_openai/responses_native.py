"""Native pass-through of the Responses API to upstreams that serve
``POST {base_url}/responses`` (OpenAI itself; many OpenAI-compatible servers do not,
hence the ``responses_api`` setting).

The body keeps every top-level value byte for byte (each is a raw slice of the
client's JSON): only ``model`` becomes the deployment's model id and the router-only
``models`` is removed, so built-in tools, reasoning items with encrypted content,
``include`` and ``store`` reach OpenAI exactly as sent. The usage tap reads usage,
the final status and the whole final response object from the relayed answer
without changing a byte of it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec

from router_core.plugin_api import (
    CompletionTokensDetails,
    InvalidRequest,
    ModelError,
    PromptTokensDetails,
    RouterError,
    UpstreamEvent,
    Usage,
)
from viberouter_openai.errors import error_for, fault_from_payload
from viberouter_openai.settings import OpenAISettings

#: The dialect name (as the core's dialect declares it).
RESPONSES = "openai_responses"
#: Fields only VibeRouter understands; OpenAI would reject them.
ROUTER_ONLY_FIELDS = frozenset({"models"})
#: Events that end a response: their ``response`` is the final object.
TERMINAL = frozenset({"response.completed", "response.incomplete"})
#: Events before any output: the stream is not committed by them.
PREAMBLE = frozenset({"response.created", "response.in_progress", "response.queued"})

_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])
_encode = msgspec.json.Encoder().encode


class _Details(msgspec.Struct):
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


class _Usage(msgspec.Struct):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: _Details | None = None
    output_tokens_details: _Details | None = None


class _Response(msgspec.Struct):
    status: str | None = None
    usage: _Usage | None = None
    error: dict[str, Any] | None = None
    incomplete_details: dict[str, Any] | None = None


class _Event(msgspec.Struct):
    type: str = ""
    response: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: absent
    error: Any = None
    code: str | None = None
    message: str | None = None


_event = msgspec.json.Decoder(_Event)
_response = msgspec.json.Decoder(_Response)


def native_enabled(settings: OpenAISettings) -> bool:
    """Whether this provider passes Responses requests through: ``native`` always,
    ``translate`` never, ``auto`` only for OpenAI's own API host."""
    if settings.responses_api != "auto":
        return settings.responses_api == "native"
    return urlsplit(settings.base_url).hostname == "api.openai.com"


def native_body(body: bytes, model: str) -> bytes:
    """The client's body with ``model`` replaced and router-only fields removed."""
    try:
        fields = _fields.decode(body)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Malformed JSON: {exc}") from exc
    out = {"model": msgspec.Raw(_encode(model))}
    out.update((k, v) for k, v in fields.items() if k != "model" and k not in ROUTER_ONLY_FIELDS)
    return _encode(out)


def _usage(raw: _Usage) -> Usage:
    inp = raw.input_tokens_details or _Details()
    out = raw.output_tokens_details or _Details()
    return Usage(
        prompt_tokens=raw.input_tokens,
        completion_tokens=raw.output_tokens,
        total_tokens=raw.total_tokens or raw.input_tokens + raw.output_tokens,
        prompt_tokens_details=PromptTokensDetails(
            cached_tokens=inp.cached_tokens, cache_write_tokens=inp.cache_write_tokens
        ),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=out.reasoning_tokens),
    )


class ResponsesUsageTap:
    """Reads usage, the final status and the final response object of a relayed
    Responses answer. Only the preamble and terminal events are decoded in full;
    content events are recognised by their SSE event name."""

    __slots__ = ("_finished", "_usage", "response", "status", "stop_reason")

    def __init__(self) -> None:
        self._usage: Usage | None = None
        self._finished = False
        self.status: str | None = None
        #: The final status in the upstream's words (``completed``, ``incomplete``).
        self.stop_reason: str | None = None
        #: The final response object exactly as the upstream sent it (JSON), once seen.
        self.response: bytes | None = None

    def feed(self, event: UpstreamEvent) -> bool:
        """Read one event; True when it carries output (the stream may commit)."""
        name = event.event
        if name and name not in PREAMBLE and name not in TERMINAL:
            if name in ("error", "response.failed"):
                raise self._failure(self._decode(event))
            return True
        decoded = self._decode(event)
        kind = name or decoded.type
        if kind in PREAMBLE:
            return False
        if kind in TERMINAL and decoded.response:
            self._read_response(bytes(decoded.response))
            return True
        if kind in ("error", "response.failed"):
            raise self._failure(decoded)
        return True

    def read_body(self, body: bytes) -> None:
        """Read a whole JSON answer (non-streamed create)."""
        self._read_response(body)

    def close(self) -> None:
        """The body ended; ``ModelError`` if no terminal event came."""
        if not self._finished:
            raise ModelError(
                "The model provider's stream ended early",
                detail="responses stream ended without response.completed",
            )

    def usage(self) -> Usage | None:
        """The usage read, ``None`` before the final response."""
        return self._usage

    def _read_response(self, raw: bytes) -> None:
        try:
            doc = _response.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ModelError(
                "The model provider sent a malformed response", detail=str(exc)
            ) from exc
        self.response = raw
        self.status = self.stop_reason = doc.status
        self._finished = True
        if doc.usage is not None:
            self._usage = _usage(doc.usage)

    @staticmethod
    def _decode(event: UpstreamEvent) -> _Event:
        try:
            return _event.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ModelError("The model provider sent a malformed event", detail=str(exc)) from exc

    @staticmethod
    def _failure(event: _Event) -> RouterError:
        payload: Any = event.error
        if payload is None and event.response:
            payload = (_response.decode(bytes(event.response)).error) or {}
        if payload is None:
            payload = {"code": event.code, "message": event.message or ""}
        return error_for(None, fault_from_payload(payload), {})


__all__ = [
    "RESPONSES",
    "ResponsesUsageTap",
    "native_body",
    "native_enabled",
]
