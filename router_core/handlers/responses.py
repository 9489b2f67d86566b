"""The Responses API endpoints: ``POST /v1/responses`` runs the one pipeline with the
``openai_responses`` dialect plus the stored-conversation hooks; ``GET`` and
``DELETE /v1/responses/{id}`` read and remove what ``store`` kept, for the caller's
account only (another account's id is 404, as an unknown one)."""

from __future__ import annotations

import time
from typing import Any

import structlog
from aiohttp import web

from router_core import pipeline
from router_core.auth import Principal
from router_core.dialects.base import DIALECT, ChatCall
from router_core.dialects.openai_responses.conversation import (
    expand,
    native_record_for,
    record_for,
)
from router_core.dialects.openai_responses.dialect import OPENAI_RESPONSES, ResponsesCall
from router_core.dialects.openai_responses.errors import ResponsesInvalid
from router_core.dialects.openai_responses.wire import DeletedResponse
from router_core.request_context import LOG_FIELDS, json_response
from router_core.state import STATE, RouterState
from router_core.store.base import StoreUnavailable
from router_core.store.responses_base import StoredResponse

log = structlog.get_logger("viberouter.responses")
_HOUR_S = 3600.0


class ResponsesHooks:
    """Reads the stored conversation before routing; stores the answer after it."""

    __slots__ = ("_state",)

    def __init__(self, state: RouterState) -> None:
        self._state = state

    @property
    def _retention_s(self) -> float:
        return self._state.settings.responses.retention_hours * _HOUR_S

    async def before_route(self, call: ChatCall, principal: Principal) -> None:
        """Expand ``previous_response_id`` and item references (400 when not found)."""
        assert isinstance(call, ResponsesCall)
        if call.needs_state and self._retention_s <= 0:
            # Only a native deployment (which keeps its own responses) can serve it.
            call.untranslatable = ResponsesInvalid(
                "This router keeps no responses (responses.retention_hours = 0); send the "
                "whole conversation as input",
                param="previous_response_id",
                code="previous_response_not_found",
            )
            return
        await expand(call, self._state.responses, principal.account.id, time.time())

    async def after_answer(self, call: ChatCall, principal: Principal) -> None:
        """Store a finished answer unless the client sent ``store: false``."""
        assert isinstance(call, ResponsesCall)
        if not call.native.stored or self._retention_s <= 0:
            return
        now, account = time.time(), principal.account.id
        record: StoredResponse | None = None
        if call.native_tap is not None:
            # The upstream's own final response object, when its tap kept it.
            body = getattr(call.native_tap, "response", None)
            finished = getattr(call.native_tap, "stop_reason", None) in ("completed", "incomplete")
            if isinstance(body, bytes) and finished:
                record = native_record_for(call, body, account, now, self._retention_s)
        else:
            response = call.finished_response()
            if response is not None:
                record = record_for(call, response, account, now, self._retention_s)
        if record is None:
            return
        try:
            await self._state.responses.put(record)
        except StoreUnavailable as exc:
            # The client has its answer; only a follow-up by id will miss it.
            log.warning("response_not_stored", response_id=record.id, error=str(exc))


async def create_response(request: web.Request) -> web.StreamResponse:
    """POST /v1/responses."""
    return await pipeline.run(request, OPENAI_RESPONSES, hooks=ResponsesHooks(request.app[STATE]))


async def _owner(request: web.Request) -> tuple[RouterState, Principal, str]:
    state = request.app[STATE]
    request[DIALECT] = OPENAI_RESPONSES
    fields: dict[str, Any] = request[LOG_FIELDS]
    fields["endpoint"] = OPENAI_RESPONSES.name
    principal = await pipeline.authenticate(request, state, OPENAI_RESPONSES, fields)
    return state, principal, request.match_info["response_id"]


def _not_found(response_id: str) -> ResponsesInvalid:
    return ResponsesInvalid(
        f"Response with id '{response_id}' not found.", param="response_id", status=404
    )


async def get_response(request: web.Request) -> web.StreamResponse:
    """GET /v1/responses/{id}: the stored response object as it was sent."""
    state, principal, response_id = await _owner(request)
    record = await state.responses.get(principal.account.id, response_id, time.time())
    if record is None:
        raise _not_found(response_id)
    return web.Response(body=record.response, content_type="application/json")


async def delete_response(request: web.Request) -> web.StreamResponse:
    """DELETE /v1/responses/{id}."""
    state, principal, response_id = await _owner(request)
    if not await state.responses.delete(principal.account.id, response_id):
        raise _not_found(response_id)
    return json_response(DeletedResponse(id=response_id))


def add_routes(app: web.Application) -> None:
    """The three Responses endpoints."""
    app.router.add_post("/v1/responses", create_response)
    app.router.add_get("/v1/responses/{response_id}", get_response)
    app.router.add_delete("/v1/responses/{response_id}", delete_response)


__all__ = ["ResponsesHooks", "add_routes", "create_response", "delete_response", "get_response"]
