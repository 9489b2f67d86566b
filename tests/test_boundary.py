"""The request boundary folded into the route handlers (boundary.py): the app runs no
aiohttp middleware, every route is inside the boundary, and requests no route matches
are answered through it as before (404, 405 with ``Allow``, request id, CORS tag)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web

from router_core.boundary import bounded
from tests.router_harness import router_settings, start_router

CORS = """
[cors]
allow_origins = ["https://app.example.com"]
"""
ORIGIN = {"Origin": "https://app.example.com"}


async def _noop(request: web.Request) -> web.StreamResponse:
    return web.Response()


async def test_every_route_inside_the_boundary(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, extra_toml=CORS), create_key=False)
    try:
        app = router.runner.app
        assert app is not None and not app.middlewares
        code = bounded(_noop).__code__
        routes = list(app.router.routes())
        assert len(routes) > 10
        assert all(route.handler.__code__ is code for route in routes), [
            route for route in routes if route.handler.__code__ is not code
        ]
        assert list(app.router.resources())[-1].canonical == "/{tail}"
    finally:
        await router.stop()


async def test_unmatched_requests_answered_through_the_boundary(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        async with aiohttp.ClientSession() as s:
            rid = {"X-Request-ID": "client-chose-this"}
            async with s.get(router.url + "/nothing/here", headers=rid) as r:
                assert r.status == 404
                assert r.headers["X-Request-ID"] == "client-chose-this"
                assert (await r.json())["message"] == "No such endpoint"
            # an encoded newline is not matched by "." in a route's pattern
            async with s.get(router.base_url + "/models/a%0Ab") as r:
                assert r.status == 404
                assert (await r.json())["message"] == "No such endpoint"
            async with s.head(router.base_url + "/nothing") as r:
                assert r.status == 404 and r.headers["X-Request-ID"]
            async with s.post(router.url + "/healthz") as r:
                assert r.status == 405 and r.headers["Allow"] == "GET,HEAD"
                assert (await r.json())["message"] == "Method not allowed for this endpoint"
            async with s.put(router.base_url + "/models/echo") as r:
                assert r.status == 405 and r.headers["Allow"] == "GET,HEAD"
                assert (await r.json())["error"] == "invalid_request"
    finally:
        await router.stop()


async def test_unmatched_requests_with_cors_on(tmp_path: Path) -> None:
    # The preflight route serves every path with OPTIONS, so every other method on an
    # unknown path is a 405 naming OPTIONS, as aiohttp's router answers it.
    router = await start_router(router_settings(tmp_path, extra_toml=CORS))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(router.base_url + "/nothing", headers=ORIGIN) as r:
                assert r.status == 405 and r.headers["Allow"] == "OPTIONS"
                assert r.headers["Access-Control-Allow-Origin"] == ORIGIN["Origin"]
            async with s.post(router.url + "/healthz", headers=ORIGIN) as r:
                assert r.status == 405 and r.headers["Allow"] == "GET,HEAD,OPTIONS"
                assert r.headers["X-Request-ID"]
    finally:
        await router.stop()
