"""Helpers every handler uses: authentication, and (from ``request_context``, which the
boundary shares) JSON responses and the log context."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from router_core.auth import Principal
from router_core.request_context import EXTRA_HEADERS, LOG_FIELDS, json_response
from router_core.state import STATE

__all__ = ["EXTRA_HEADERS", "LOG_FIELDS", "authenticate", "json_response"]


async def authenticate(request: web.Request) -> Principal:
    """The caller's Principal (401 RouterError otherwise); recorded for the log."""
    principal = await request.app[STATE].auth.authenticate(request.headers.get("Authorization"))
    fields: dict[str, Any] = request[LOG_FIELDS]
    fields["key_id"] = principal.key.id
    fields["account_id"] = principal.account.id
    return principal
