"""The per-connection HTTP protocol: aiohttp's, with our answer to HTTP that never
reaches the app, and the request's own bookkeeping run after its answer is written.

aiohttp answers a request it cannot parse (a bad request line, a bare LF, a broken
header) itself, with a plain-text 400 whose text is the parser's message, and
that message quotes the raw bytes it choked on: the request's own headers,
``Authorization`` included, went back to the sender and into aiohttp's error log.
:class:`RouterRequestHandler` answers those with one fixed JSON body that never
depends on the request, and logs only the kind of error.
"""

from __future__ import annotations

import msgspec
import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from router_core.api.chat import ErrorBody
from router_core.request_context import AFTER_WRITE

log = structlog.get_logger("viberouter.http")

MALFORMED_BODY = msgspec.json.encode(ErrorBody("invalid_request", "malformed HTTP request"))
_SERVER_ERROR_BODY = msgspec.json.encode(ErrorBody("server_error", "Internal server error"))


class RouterRequestHandler(RequestHandler):
    """aiohttp's request handler whose error answers carry no byte of the request, and
    which runs a request's ``AFTER_WRITE`` once its answer is written: the request's
    metric and access line (boundary.py) cost the client no time."""

    __slots__ = ()

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            # However the write ended (written, client gone, cancelled); aiohttp finishes
            # each request once. get(), not pop(): the mapping's pop is two more calls.
            after = request.get(AFTER_WRITE)
            if after is not None:
                try:
                    after(request)
                except Exception:
                    log.exception("after_write_failed")

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # as aiohttp: an answer has started, the connection can only be dropped
            raise ConnectionError("the answer had started; cannot send an error answer")
        if status < 500:
            # exc's text quotes the raw request: only its class is logged
            log.info("malformed_http", status=status, error=type(exc).__name__)
            body = MALFORMED_BODY
        else:
            # reached only by a bug below the request boundary (boundary.py, which answers
            # every error a handler raises); its traceback goes to the log like any other bug
            log.error("http_handler_failed", status=status, exc_info=exc)
            body = _SERVER_ERROR_BODY
        resp = web.Response(status=status, body=body, content_type="application/json")
        resp.force_close()
        return resp


def new_handler(server: web.Server) -> RequestHandler:
    """A protocol for one new connection of ``server`` (what ``server()`` makes,
    with our error answers)."""
    handler = server()
    # Same slots, one method overridden: the class swap keeps everything aiohttp set
    # up for the connection (timeouts, limits, access log) without re-deriving it.
    handler.__class__ = RouterRequestHandler
    return handler


__all__ = ["MALFORMED_BODY", "RouterRequestHandler", "new_handler"]
