"""The ``anthropic_messages`` dialect: ``POST /v1/messages`` on the one pipeline.

Decoding translates leniently AND strictly: the lenient canonical form (blocks with
no canonical equivalent reduced to their text, or nothing) is what the pipeline
routes, guards and estimates; the strict translation's refusal, if any, is kept in
``ChatCall.untranslatable`` and raised only for a deployment that would need the
translation. A deployment whose plugin speaks the Messages API natively gets the
client's own body instead, so nothing is refused or lost there.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from router_core.api.chat import ChatCompletion
from router_core.dialects.anthropic_messages.decode import decode_messages
from router_core.dialects.anthropic_messages.errors import (
    anthropic_headers,
    error_body,
    rate_limit_headers,
    refusal_rate_limit_headers,
)
from router_core.dialects.anthropic_messages.from_chat import to_message
from router_core.dialects.anthropic_messages.stream import MessagesStreamEncoder
from router_core.dialects.anthropic_messages.to_chat import Translated, to_chat
from router_core.dialects.anthropic_messages.wire import MessagesRequest
from router_core.dialects.base import ChatCall, Dialect
from router_core.errors import InvalidRequest, RouterError
from router_core.limits.base import Admission, Limits

_encode = msgspec.json.Encoder().encode

#: Client headers a native upstream gets (lower case); the rest stay here.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


class MessagesCall(ChatCall):
    """A Messages API request: the canonical call plus the typed native request."""

    __slots__ = ("native",)

    def __init__(self, native: MessagesRequest, translated: Translated, body: bytes) -> None:
        super().__init__(translated.request, body, (native.model,), native.stream)
        self.native = native


def translate(native: MessagesRequest) -> tuple[Translated, RouterError | None]:
    """The strict translation, or the lenient one and why the strict one failed."""
    try:
        return to_chat(native), None
    except InvalidRequest as exc:
        return to_chat(native, strict=False), exc


class AnthropicMessages(Dialect):
    """POST /v1/messages (see dialects/base.py for the contract)."""

    name = "anthropic_messages"
    native_endpoint = "messages"

    def credential(self, headers: Mapping[str, str]) -> str | None:
        """``x-api-key: <key>`` (what the SDKs' ``api_key`` sends), else the
        ``Authorization: Bearer <key>`` of ``auth_token``."""
        key = headers.get("x-api-key")
        if key:
            return "Bearer " + key
        return headers.get("Authorization")

    def decode(self, body: bytes) -> ChatCall:
        """The typed request, its canonical form and what keeps it from translating."""
        native = decode_messages(body)
        translated, refusal = translate(native)
        call = MessagesCall(native, translated, body)
        call.untranslatable = refusal
        call.extras_body = translated.body()
        return call

    def forwarded_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``anthropic-version`` and ``anthropic-beta``, for a native upstream."""
        return {name: headers[name] for name in FORWARDED_HEADERS if name in headers}

    def encode_response(self, completion: ChatCompletion, call: ChatCall) -> bytes:
        """The completion as a Messages API response."""
        return _encode(to_message(completion))

    def stream_encoder(self, call: ChatCall) -> MessagesStreamEncoder:
        """Anthropic's event sequence; message_start reports the prompt estimate."""
        return MessagesStreamEncoder(input_estimate=call.prompt_estimate)

    def error_response(self, err: RouterError, headers: dict[str, str]) -> tuple[int, bytes]:
        """Anthropic's envelope and status (errors.py has the mapping)."""
        return error_body(err)

    def admitted_headers(self, admission: Admission, now: float) -> dict[str, str]:
        """``anthropic-ratelimit-*`` beside the router's own."""
        return rate_limit_headers(admission, now)

    def refused_headers(
        self, limits: Limits, retry_after: float | None, now: float
    ) -> dict[str, str]:
        """``anthropic-ratelimit-requests-*`` of a refused request."""
        return refusal_rate_limit_headers(limits, retry_after, now)

    def response_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``request-id``: the router's request id, where Anthropic's SDKs look."""
        return anthropic_headers(headers)


ANTHROPIC_MESSAGES = AnthropicMessages()


__all__ = ["ANTHROPIC_MESSAGES", "FORWARDED_HEADERS", "AnthropicMessages", "MessagesCall"]
