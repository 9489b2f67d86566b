"""GET /v1/models and GET /v1/models/{id}: the cards this key may use."""

from __future__ import annotations

from aiohttp import web

from router_core.api.models import ModelList
from router_core.errors import InvalidModel
from router_core.handlers.common import authenticate, json_response
from router_core.state import STATE


async def list_models(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    catalog = request.app[STATE].catalog
    cards = [r.card for r in catalog.listed() if principal.models.allows(r.name)]
    return json_response(ModelList(data=cards))


async def get_model(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    model_id = request.match_info["model_id"]
    route = request.app[STATE].catalog.resolve(model_id)
    if route is None or not principal.models.allows(route.name):
        raise InvalidModel(f"The model {model_id!r} does not exist", status=404)
    return json_response(route.card)
