"""GET /v1/openapi.json: the public API's OpenAPI 3.1 document (built once, no auth)."""

from __future__ import annotations

from aiohttp import web

from router_core import __version__
from router_core.openapi import openapi_bytes

#: The encoded document, built when the routes are added.
OPENAPI_DOC: web.AppKey[bytes] = web.AppKey("viberouter_openapi", bytes)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOC], content_type="application/json")


def add_routes(app: web.Application) -> None:
    """Build the document once and serve it at /v1/openapi.json."""
    app[OPENAPI_DOC] = openapi_bytes(version=__version__)
    app.router.add_get("/v1/openapi.json", openapi_json)


__all__ = ["OPENAPI_DOC", "add_routes", "openapi_json"]
