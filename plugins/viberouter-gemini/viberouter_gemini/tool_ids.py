"""Carry Gemini's ``thoughtSignature`` inside the OpenAI tool-call id.

Gemini 3 rejects a replayed ``functionCall`` part without the opaque signature it
sent with the call. OpenAI messages have nowhere to keep it, and a plugin is
stateless, so the id we hand to the client carries it and comes back to us in the
next request's assistant ``tool_calls``::

    <base>__ts_<signature, base64url without padding>

``base`` is Gemini's call id when it gave one, else ``call_<hex>``. The signature is
standard base64; translating to the URL-safe alphabet keeps the id within
``[A-Za-z0-9_-]`` (accepted by OpenAI-shaped clients and by Anthropic if the
conversation later moves there). The translation is exact because standard
base64 padding is determined by the length.
"""

from __future__ import annotations

from collections.abc import Callable

from router_core.plugin_api import new_tool_call_id

MARKER = "__ts_"
_TO_URLSAFE = str.maketrans("+/", "-_")
_FROM_URLSAFE = str.maketrans("-_", "+/")


def encode_tool_call_id(
    upstream_id: str | None,
    signature: str | None,
    new_id: Callable[[], str] = new_tool_call_id,
) -> str:
    """The id to return to the client for one Gemini function call."""
    base = upstream_id if upstream_id and MARKER not in upstream_id else new_id()
    if not signature:
        return base
    return base + MARKER + signature.translate(_TO_URLSAFE).rstrip("=")


def decode_tool_call_id(tool_call_id: str) -> tuple[str, str | None]:
    """Split a client-sent id into (base id, thoughtSignature or None)."""
    base, marker, encoded = tool_call_id.partition(MARKER)
    if not marker or not encoded:
        return tool_call_id, None
    signature = encoded.translate(_FROM_URLSAFE)
    return base, signature + "=" * (-len(signature) % 4)
