"""What one request carries between the request boundary and its handler, and the JSON
response both of them write.

The request boundary (boundary.py, around every handler) creates ``LOG_FIELDS`` and
``EXTRA_HEADERS`` for every request; handlers fill them; the boundary writes the one
log line and puts the extra headers on every answer, errors included.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()

#: Fields the handler adds to the request's single log line (read by the boundary).
LOG_FIELDS: web.RequestKey[dict[str, Any]] = web.RequestKey("viberouter_log_fields", dict)
#: Headers every response to this request carries (rate limits, provider ...).
EXTRA_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("viberouter_extra_headers", dict)


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
