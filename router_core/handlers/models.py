"""GET /v1/models and GET /v1/models/{id}: the cards this key may use, each with
its live status from the deployments' circuits (available / degraded / unavailable)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from router_core.api.models import ModelCard, ModelList
from router_core.catalog import Route
from router_core.circuit import Breakers, route_status
from router_core.errors import InvalidModel
from router_core.handlers.common import authenticate, json_response
from router_core.state import STATE


def card_with_status(route: Route, breakers: Breakers) -> ModelCard:
    """The route's card, its ``status`` reflecting its deployments' circuits now."""
    status = route_status(breakers.state(t.deployment.id) for t in route.targets)
    if status == route.card.status:
        return route.card
    return msgspec.structs.replace(route.card, status=status)


async def list_models(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    state = request.app[STATE]
    breakers = state.dispatcher.breakers
    cards = [
        card_with_status(r, breakers)
        for r in state.catalog.listed()
        if principal.models.allows(r.name)
    ]
    return json_response(ModelList(data=cards))


async def get_model(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    model_id = request.match_info["model_id"]
    state = request.app[STATE]
    route = state.catalog.resolve(model_id)
    if route is None or not principal.models.allows(route.name):
        raise InvalidModel(f"The model {model_id!r} does not exist", status=404)
    return json_response(card_with_status(route, state.dispatcher.breakers))
