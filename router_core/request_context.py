"""What one request carries between the request boundary and its handler, and the JSON
response both of them write.

The request boundary (boundary.py, around every handler) creates ``LOG_FIELDS`` and
``EXTRA_HEADERS`` for every request; handlers fill them; the boundary puts the extra
headers on every answer, errors included, and writes the one log line, after the
answer where the protocol offers it (``AFTER_WRITE``).
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()

#: Fields the handler adds to the request's single log line (read by the boundary).
LOG_FIELDS: web.RequestKey[dict[str, Any]] = web.RequestKey("viberouter_log_fields", dict)
#: Headers every response to this request carries (rate limits, provider ...).
EXTRA_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("viberouter_extra_headers", dict)
#: What the boundary leaves to do once the answer is written (its metric and log line):
#: the connection's protocol (http_protocol.RouterRequestHandler) calls it then, with
#: the request (which it must not hold itself: a cycle through the request's mapping).
AFTER_WRITE: web.RequestKey[functools.partial[None]] = web.RequestKey(
    "viberouter_after_write", functools.partial
)


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """msgspec-encoded JSON response."""
    return web.Response(
        body=_encoder.encode(obj),
        status=status,
        content_type="application/json",
        headers=headers,
    )
