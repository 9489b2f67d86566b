"""Helpers every handler uses: authentication, JSON responses, the log context."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from router_core.auth import Principal
from router_core.state import STATE

_encoder = msgspec.json.Encoder()

#: Fields the handler adds to the request's single log line (read by the middleware).
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


async def authenticate(request: web.Request) -> Principal:
    """The caller's Principal (401 RouterError otherwise); recorded for the log."""
    principal = await request.app[STATE].auth.authenticate(request.headers.get("Authorization"))
    fields: dict[str, Any] = request[LOG_FIELDS]
    fields["key_id"] = principal.key.id
    fields["account_id"] = principal.account.id
    return principal
