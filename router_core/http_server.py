"""The HTTP server below the app: the listener (``CappedTCPSite``, ``serve_forever``)
and its limits against abusive clients.

* Slow senders: aiohttp closes a connection whose next request's headers have not
  fully arrived ``keepalive_timeout`` seconds after it opened (or after its last
  answer); :func:`handler_args` sets that to ``server.client_read_timeout_s``. The
  body has its own bound of the same length in the pipeline (408), and an
  unread body is drained for at most ``LINGER_S`` seconds after the answer.
* Too many connections: :class:`CappedTCPSite` refuses a connection beyond
  ``server.max_connections`` at accept time with one short 429
  ``concurrent_requests`` answer and closes it, so an idle flood cannot exhaust
  file descriptors or memory.
* Body size: aiohttp's ``client_max_size`` (413 ``invalid_request``, mapped by the
  boundary) from ``server.max_body_bytes``.
* Hung peers: the listener carries ``TCP_USER_TIMEOUT`` (Linux), which every accepted
  connection inherits, so the kernel aborts a connection whose sent bytes stay
  unacknowledged for ``UNACKED_SEND_LIMIT_S``. A slow stream's writes never block on a
  full buffer, so only this notices a peer that vanished without a FIN. aiohttp-sse
  sets and restores the same option around every stream instead: three socket
  objects and six system calls per stream, about 5 us (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from functools import partial
from typing import Any

import msgspec
from aiohttp import web

from router_core.api.chat import ErrorBody
from router_core.errors import ConcurrentRequests
from router_core.http_protocol import new_handler
from router_core.settings import ServerSettings
from router_core.shutdown import CUT_GRACE_S, StopSignals, drain_and_stop
from router_core.state import STATE

#: Longest drain of an unread request body after its answer was sent.
LINGER_S = 2.0

#: Sent bytes unacknowledged this long abort the connection (aiohttp-sse's default).
UNACKED_SEND_LIMIT_S = 120.0
_TCP_USER_TIMEOUT: int | None = getattr(socket, "TCP_USER_TIMEOUT", None)


def handler_args(server: ServerSettings) -> dict[str, Any]:
    """Per-connection protocol settings for ``web.Application(handler_args=...)``."""
    timeout = server.client_read_timeout_s if server.client_read_timeout_s > 0 else 3600.0
    # lingering: after answering a request whose body was not read (413, 408), drain
    # what the client still sends for a moment, so it reads the answer rather than a
    # reset; bounded so a slow sender cannot hold the connection with it.
    return {"keepalive_timeout": timeout, "lingering_time": min(timeout, LINGER_S)}


def refusal_bytes() -> bytes:
    """The whole HTTP answer sent to a connection over the cap."""
    err = ConcurrentRequests("The router is at its connection limit; retry shortly")
    body = msgspec.json.encode(ErrorBody(err.code, err.message))
    head = (
        f"HTTP/1.1 {err.status} Too Many Requests\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Refuse(asyncio.Protocol):
    """Answers 429 at once and closes (the request is never read)."""

    def __init__(self, answer: bytes) -> None:
        self._answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self._answer)
        transport.close()

    def data_received(self, data: bytes) -> None:
        return None


class ConnectionCap:
    """A protocol factory in front of aiohttp's: over ``limit`` open connections,
    new ones get :class:`_Refuse` instead of a request handler."""

    def __init__(self, server: web.Server, limit: int) -> None:
        self._server = server
        self._limit = limit
        self._answer = refusal_bytes()
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        # aiohttp registers a handler in connection_made and drops it once its
        # connection is gone, so this counts open connections (accept is serial).
        if len(self._server.connections) >= self._limit:
            self.refused += 1
            return _Refuse(self._answer)
        return new_handler(self._server)


class CappedTCPSite(web.TCPSite):
    """``web.TCPSite`` whose listener refuses connections beyond ``max_connections``
    (0 = unlimited)."""

    __slots__ = ("_max_connections", "cap")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None = None,
        port: int | None = None,
        *,
        max_connections: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(runner, host, port, **kwargs)
        self._max_connections = max_connections
        self.cap: ConnectionCap | None = None

    async def start(self) -> None:
        # BaseSite.start registers the site with its runner; TCPSite.start would also
        # create the listener with the bare protocol factory, so it is not called.
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        factory: Any = partial(new_handler, server)
        if self._max_connections > 0:
            self.cap = ConnectionCap(server, self._max_connections)
            factory = self.cap
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        for sock in sockets:
            limit_unacked_sends(sock)
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def limit_unacked_sends(sock: Any) -> None:
    """Set ``TCP_USER_TIMEOUT`` on a TCP listener (its accepted sockets inherit it)."""
    if _TCP_USER_TIMEOUT is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    sock.setsockopt(socket.IPPROTO_TCP, _TCP_USER_TIMEOUT, int(UNACKED_SEND_LIMIT_S * 1000))


class StartupError(Exception):
    """The router cannot start (port taken, state backend unreachable); the message is
    one line saying what and how to fix it, printed instead of a traceback."""


async def serve_forever(
    app: web.Application,
    server: ServerSettings,
    *,
    host: str,
    port: int,
    reuse_port: bool,
    backlog: int = 1024,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Run ``app`` with the connection cap until SIGINT/SIGTERM, then drain it
    (shutdown.py; what serve.py runs instead of ``web.run_app``, which has no hook
    for the listener's protocol and cancels requests in flight at once)."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        handler_cancellation=True,
        access_log=None,
        # what is left after the drain (drain_and_stop) gets this long, then is cancelled
        shutdown_timeout=CUT_GRACE_S,
    )
    signals = StopSignals()
    signals.install()
    try:
        await runner.setup()
        site = CappedTCPSite(
            runner,
            host,
            port,
            max_connections=server.max_connections,
            reuse_port=reuse_port,
            backlog=backlog,
        )
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; another process "
                "holds it? pick another with --port or server.port"
            ) from exc
        if on_listening is not None:
            on_listening()
        await signals.requested.wait()
        await drain_and_stop(runner, app[STATE].drain, server.shutdown_timeout_s, signals)
    finally:
        await runner.cleanup()
        signals.uninstall()


def run(
    app: web.Application,
    server: ServerSettings,
    *,
    host: str,
    port: int,
    reuse_port: bool,
    backlog: int = 1024,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Blocking: serve until a signal; a graceful exit is not an error (nor a
    Ctrl-C during start-up, before the handlers are installed)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                app,
                server,
                host=host,
                port=port,
                reuse_port=reuse_port,
                backlog=backlog,
                on_listening=on_listening,
            )
        )


__all__ = [
    "CappedTCPSite",
    "ConnectionCap",
    "StartupError",
    "handler_args",
    "limit_unacked_sends",
    "refusal_bytes",
    "run",
    "serve_forever",
]
