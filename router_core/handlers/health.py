"""/healthz (the process answers) and /readyz (plugins loaded, state reachable)."""

from __future__ import annotations

from aiohttp import web

from router_core.handlers.common import json_response
from router_core.state import STATE


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE]
    # draining: the process is stopping, send nothing new here
    status = "draining" if state.drain.draining else "ready" if state.ready else "starting"
    body = {
        "status": status,
        "providers": state.installed.providers,
        "models": len(state.catalog.listed()),
    }
    return json_response(body, status=200 if status == "ready" else 503)
