"""/metrics over HTTP: the handler for the main app, and the separate listener
used when ``metrics.listen`` is set (so the scrape port can stay private)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from router_core.metrics import Metrics
from router_core.state import STATE

METRICS = web.AppKey("viberouter_metrics", Metrics)
_HEADERS = {"Content-Type": CONTENT_TYPE_LATEST}


def metrics_response(metrics: Metrics) -> web.Response:
    """The Prometheus text exposition of ``metrics`` (all workers in multiprocess mode)."""
    return web.Response(body=metrics.exposition(), headers=_HEADERS)


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics on the router's own app."""
    return metrics_response(request.app[STATE].metrics)


async def _standalone_handler(request: web.Request) -> web.Response:
    return metrics_response(request.app[METRICS])


def parse_listen(address: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:9464"`` for IPv6, ``":9464"`` for every interface)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"metrics.listen must be 'host:port', not {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def make_metrics_app(metrics: Metrics) -> web.Application:
    """A small app that serves only GET /metrics."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", _standalone_handler)
    return app


def metrics_listener(
    address: str, *, reuse_port: bool = False
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A ``cleanup_ctx`` entry for the router app: serve its metrics on ``address``
    for as long as the app runs. With several workers each binds the same address
    with SO_REUSEPORT; any of them answers with every worker's values."""
    host, port = parse_listen(address)

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(make_metrics_app(app[STATE].metrics), access_log=None)
        await runner.setup()
        kwargs: dict[str, Any] = {"reuse_port": True} if reuse_port else {}
        await web.TCPSite(runner, host, port, **kwargs).start()
        try:
            yield
        finally:
            await runner.cleanup()

    return ctx


def attach_metrics(app: web.Application, listen: str | None, *, reuse_port: bool = False) -> None:
    """Serve the app's metrics on ``listen`` when set (the main port serves them otherwise)."""
    if listen is not None:
        app.cleanup_ctx.append(metrics_listener(listen, reuse_port=reuse_port))
