"""Routes of the account dashboard (added by make_app when enabled)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register /dashboard routes on ``app``."""
