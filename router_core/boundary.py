"""The request boundary: request id, the drain's count, RouterError -> JSON, the
request's metric and log line, folded into every route's handler.

It is not an aiohttp middleware on purpose: an application with any middleware makes
aiohttp add one of its own and build the chain per request, two more coroutine frames
that stay alive for as long as a stream is held, and CPU on every request. Instead
:func:`install` wraps each route's handler once, after all routes are registered, and
adds a last catch-all route that answers what no route matched (404, or 405 with the
``Allow`` header aiohttp's router would have sent) through the same boundary.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from router_core.api.chat import ErrorBody
from router_core.dialects.base import DIALECT, Dialect
from router_core.dialects.openai_chat import OPENAI_CHAT
from router_core.drain import Drain, take_cut
from router_core.errors import (
    InvalidRequest,
    RouterError,
    ServerError,
    client_should_retry,
)
from router_core.http_protocol import RouterRequestHandler
from router_core.limits.headers import retry_headers
from router_core.logs import access_log
from router_core.request_context import AFTER_WRITE, EXTRA_HEADERS, LOG_FIELDS, json_response
from router_core.state import STATE, RouterState
from router_core.store.base import StoreUnavailable

log = structlog.get_logger("viberouter.access")

# Request ids need to be unique, not secret: a random per-process prefix and a counter
# cost nothing, where a fresh random token per request is a system call.
_RID_PREFIX = secrets.token_hex(6)
_rid_counter = itertools.count(1)


def next_request_id() -> str:
    """A fresh request id (24 hex digits, unique per process and start)."""
    return f"{_RID_PREFIX}{next(_rid_counter):012x}"


def error_response(
    err: RouterError, headers: dict[str, str], dialect: Dialect | None = None
) -> web.Response:
    """The error answer, in the shape of the dialect serving the request (the seed
    shape when none was chosen yet)."""
    h = dict(headers)
    h.update(err.headers)
    # Every error tells SDKs whether a retry can help, and when (errors.py).
    h.update(retry_headers(err.retry_after, should_retry=client_should_retry(err)))
    if dialect is not None:
        status, body = dialect.error_response(err, h)
        return web.Response(body=body, status=status, content_type="application/json", headers=h)
    return json_response(ErrorBody(err.code, err.message), status=err.http_status, headers=h)


def _dialect(request: web.Request) -> Dialect | None:
    """The dialect whose error shape an answer takes: the endpoint's, else (an unknown
    path or method under /v1/, before any endpoint ran) the chat dialect in the
    configured ``server.error_format``, so SDK clients can read every error."""
    dialect = request.get(DIALECT)
    if dialect is not None or not request.path.startswith("/v1/"):
        return dialect
    state = request.app.get(STATE)
    return OPENAI_CHAT.with_error_format(state.settings.server.error_format) if state else None


def _http_error(exc: web.HTTPException) -> RouterError:
    if exc.status == 413:
        return InvalidRequest("The request body is too large", status=413)
    if exc.status == 404:
        return InvalidRequest("No such endpoint", status=404)
    if exc.status == 405:
        # RFC 9110: a 405 names the methods the resource does support.
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return InvalidRequest("Method not allowed for this endpoint", status=405, headers=allow)
    return InvalidRequest(exc.reason or "Bad request", status=exc.status)


def _backend_down() -> ServerError:
    return ServerError(
        "The state backend is unavailable; try again shortly",
        status=503,
        retry_after=1.0,
        headers={"Retry-After": "1"},
    )


def _request_id(request: web.Request) -> tuple[str, bool]:
    """The client's X-Request-ID when usable (and True), else a fresh one (and False)."""
    rid = request.headers.get("X-Request-ID")
    if not rid or len(rid) > 128 or not rid.isprintable():
        return next_request_id(), False
    return rid, True


#: A route's handler as aiohttp keeps it (a coroutine function).
Bounded = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def bounded(handler: Handler) -> Bounded:
    """``handler`` inside the boundary: one coroutine frame around the handler's own."""

    @functools.wraps(handler)
    async def boundary(request: web.Request) -> web.StreamResponse:
        t0 = time.monotonic()
        rid, client_rid = _request_id(request)
        # Every event logged while serving this request (dispatch, streaming) carries its
        # id; aiohttp runs each request in its own task, so the binding ends with it.
        structlog.contextvars.bind_contextvars(request_id=rid)
        fields: dict[str, Any] = {}
        extra: dict[str, str] = {"X-Request-ID": rid}
        request[LOG_FIELDS] = fields
        request[EXTRA_HEADERS] = extra
        state = request.app[STATE]
        drain = state.drain
        task = _enter_drain(request, drain)
        status = 500
        code: str | None = None
        answered = False  # an answer is returned for aiohttp to write
        try:
            try:
                resp = await handler(request)
            except asyncio.CancelledError:
                cut = take_cut(request)
                if cut is None or request.writer.output_size > 0:
                    status, code = 499, "client_closed"  # nginx's convention: the client left
                    raise
                # The drain's deadline cut a request whose answer had not started: a 503
                # in the client's dialect, logged with its real status.
                raise cut from None
            finally:
                drain.leave(task)
            if drain.draining and not resp.prepared:
                resp.force_close()
            status = resp.status
            if not resp.prepared:
                resp.headers.update(extra)
            answered = True
            return resp
        except Exception as exc:  # the boundary: RouterErrors answered, bugs -> server_error
            if isinstance(exc, web.HTTPException) and exc.status < 400:
                raise  # a redirect: aiohttp answers it
            answer, code = _error_answer(request, exc, fields, extra, rid)
            status = answer.status  # a dialect may say it with its own status (404, 529)
            answered = True
            return answer
        finally:
            finish = functools.partial(_finish, state, rid, client_rid, fields, status, code, t0)
            if answered and isinstance(request.protocol, RouterRequestHandler):
                # Counted and logged once the answer is written (http_protocol.py). The
                # protocol passes the request: held here, it would make a reference
                # cycle (request -> its mapping -> this), freed only by the collector.
                request[AFTER_WRITE] = finish
            else:
                finish(request)

    return boundary


def _enter_drain(request: web.Request, drain: Drain) -> asyncio.Task[object] | None:
    """Count the request in flight for the drain; one that arrived on a kept-alive
    connection during a drain (the listener is closed) is served, and its connection
    closes after the answer."""
    task = drain.enter(request)
    if drain.draining:
        request.protocol.close()
    return task


def install(app: web.Application) -> None:
    """Put every route registered so far inside the boundary, then add the catch-all.

    Call it once, after the last route: a route added later is neither bounded nor
    reachable (the catch-all matches every path and method first)."""
    for route in app.router.routes():
        # aiohttp has no public way to wrap a registered route's handler (its
        # Application(router=...) hook is deprecated); the route keeps it here.
        route._handler = bounded(route.handler)
    # [\s\S], not ".": a path with an encoded newline (%0A) must land here too.
    app.router.add_route("*", r"/{tail:[\s\S]*}", bounded(_no_route))


async def _no_route(request: web.Request) -> web.StreamResponse:
    """What aiohttp's router answers when no route matches: 405 with ``Allow`` when some
    resource serves the path with other methods, else 404 (raised for the boundary)."""
    catch_all = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not catch_all:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _error_answer(
    request: web.Request, exc: Exception, fields: dict[str, Any], extra: dict[str, str], rid: str
) -> tuple[web.Response, str]:
    """The answer to a request that raised ``exc``, and its error code."""
    dialect = _dialect(request)
    if isinstance(exc, RouterError):
        fields["error_detail"] = exc.detail
        _count_refusal(request, exc)
        try:
            return error_response(exc, extra, dialect), exc.code
        except Exception:
            # Still the boundary: an error that cannot be rendered is our bug.
            log.exception("error_response_failed", request_id=rid, error=exc.code)
            return error_response(ServerError(), extra, dialect), "server_error"
    if isinstance(exc, web.HTTPException):
        http_err = _http_error(exc)
        return error_response(http_err, extra, dialect), http_err.code
    if isinstance(exc, StoreUnavailable):
        # The state backend is down (admin API, dashboard): retryable, and not our bug.
        fields["error_detail"] = repr(exc)
        return error_response(_backend_down(), extra, dialect), "server_error"
    # The one place a bug becomes server_error: traceback to the log, no internals out.
    log.exception("unhandled_error", request_id=rid, path=request.path)
    return error_response(ServerError(), extra, dialect), "server_error"


def _count_refusal(request: web.Request, err: RouterError) -> None:
    if err.http_status == 429:
        request.app[STATE].metrics.rate_limited_c.get(err.code).inc()


def _finish(
    state: RouterState,
    rid: str,
    client_rid: bool,
    fields: dict[str, Any],
    status: int,
    code: str | None,
    t0: float,
    request: web.BaseRequest,
) -> None:
    if "model" in fields:
        state.metrics.requests_c.get(
            fields["model"],
            fields.get("provider", ""),
            str(status),
            code or fields.get("stream_error", ""),
            fields.get("endpoint", ""),
        ).inc()
    if not state.settings.logging.access_log:
        return
    line = {
        "request_id": rid,
        "method": request.method,
        "path": request.path,
        "status": status,
        "error": code,
        "latency_ms": round((time.monotonic() - t0) * 1000, 3),
    }
    line.update(fields)
    access_log.write(line, trusted_id=not client_rid)
