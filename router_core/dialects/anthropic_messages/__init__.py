"""The Anthropic Messages API dialect (``POST /v1/messages``, ``/v1/messages/count_tokens``).

Pure translators, no I/O: ``decode`` (client bytes -> typed request), ``to_chat``
(typed request -> canonical chat request, refusing what a non-Anthropic target cannot
do), ``from_chat`` (canonical completion -> Messages response), ``stream`` (canonical
chunks -> Anthropic's event sequence) and ``errors`` (router errors in Anthropic's
shape and rate-limit headers). Native pass-through to deployments that speak the
Messages API never goes through these translators.
"""

from router_core.dialects.anthropic_messages.decode import decode_messages
from router_core.dialects.anthropic_messages.errors import (
    classify,
    error_body,
    error_event,
    rate_limit_headers,
    refusal_rate_limit_headers,
)
from router_core.dialects.anthropic_messages.from_chat import to_message, usage_out
from router_core.dialects.anthropic_messages.stream import PING, MessagesStreamEncoder
from router_core.dialects.anthropic_messages.to_chat import Translated, to_chat

#: The dialect's name, as plugins declare it in ``native_dialects``.
NAME = "anthropic_messages"

__all__ = [
    "NAME",
    "PING",
    "MessagesStreamEncoder",
    "Translated",
    "classify",
    "decode_messages",
    "error_body",
    "error_event",
    "rate_limit_headers",
    "refusal_rate_limit_headers",
    "to_chat",
    "to_message",
    "usage_out",
]
