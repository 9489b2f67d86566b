"""Client bytes -> ``MessagesRequest``, with Anthropic-style field paths in errors."""

from __future__ import annotations

import msgspec

from router_core.dialects.anthropic_messages.wire import MessagesRequest
from router_core.errors import InvalidRequest

_decoder = msgspec.json.Decoder(MessagesRequest)


def field_path(message: str) -> str:
    """msgspec's ``Expected ... - at `$.messages[0].role``` as Anthropic words it:
    ``messages.0.role: Expected ...``."""
    text, sep, where = message.rpartition(" - at `")
    if not sep:
        return message
    path = where.rstrip("`").removeprefix("$").lstrip(".")
    path = path.replace("[", ".").replace("]", "")
    return f"{path}: {text}" if path else text


def decode_messages(body: bytes, *, count_tokens: bool = False) -> MessagesRequest:
    """The typed request, or 400 ``invalid_request`` naming the field.

    ``count_tokens`` bodies carry no ``max_tokens``; ``/v1/messages`` requires it.
    """
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        req = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(field_path(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"There was an issue with the JSON body: {exc}") from exc
    if not count_tokens and isinstance(req.max_tokens, msgspec.UnsetType):
        raise InvalidRequest("max_tokens: Field required")
    if not req.messages:
        raise InvalidRequest("messages: at least one message is required")
    return req


__all__ = ["decode_messages", "field_path"]
