"""Run the router: one process, or N workers on one port with SO_REUSEPORT."""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys

import structlog
from aiohttp import web

from router_core.logs import configure_logging
from router_core.settings import Settings

log = structlog.get_logger("viberouter.serve")
ADDRESS = web.AppKey("viberouter_address", str)


def _use_uvloop(enabled: bool) -> None:
    if not enabled:
        return
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def check_http_parser() -> bool:
    """True when aiohttp uses its C HTTP parser (the pure-Python one is ~5x slower)."""
    from aiohttp import http_parser

    return http_parser.HttpRequestParser is not getattr(http_parser, "HttpRequestParserPy", None)


async def _bootstrap_demo(app: web.Application) -> None:
    from router_core.state import STATE

    state = app[STATE]
    address = app[ADDRESS]
    if not state.settings.auth.bootstrap_demo_key:
        return
    secret = await state.accounts.ensure_demo()
    if secret:
        print(
            "\n  VibeRouter created a demo account and API key (shown once, stored hashed):\n"
            f"\n    {secret}\n\n"
            "  Try it:\n"
            f"    curl http://{address}/v1/chat/completions \\\n"
            f"      -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' \\\n"
            '      -d \'{"model": "echo", "messages": [{"role": "user", "content": "Hello!"}]}\'\n',
            flush=True,
        )


def run_one(settings: Settings, host: str, port: int, reuse_port: bool) -> None:
    from router_core.app import make_app

    _use_uvloop(settings.server.uvloop)
    configure_logging(settings.logging.format, settings.logging.level)
    if not check_http_parser():
        log.warning("slow_http_parser", hint="aiohttp's C extensions are not in use")
    app = make_app(settings)
    app[ADDRESS] = f"{host}:{port}"
    app.on_startup.append(_bootstrap_demo)
    log.info("listening", host=host, port=port, backend=settings.state.backend)
    web.run_app(
        app,
        host=host,
        port=port,
        reuse_port=reuse_port,
        handler_cancellation=True,
        access_log=None,
        shutdown_timeout=settings.server.shutdown_timeout_s,
        print=None,
        backlog=1024,
    )


def serve(settings: Settings, *, host: str | None, port: int | None, workers: int) -> int:
    host = host or settings.server.host
    port = port or settings.server.port
    if workers < 1:
        print("viberouter: --workers must be at least 1", file=sys.stderr)
        return 2
    if workers == 1:
        run_one(settings, host, port, reuse_port=False)
        return 0
    if settings.state.backend != "redis":
        print(
            'viberouter: --workers > 1 needs state.backend = "redis": with the embedded '
            "backend each process would keep its own keys cache, limits and SQLite writer, "
            "so limits would not hold across workers.",
            file=sys.stderr,
        )
        return 4
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=run_one, args=(settings, host, port, True), name=f"viberouter-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()

    def stop(*_: object) -> None:
        for p in procs:
            if p.is_alive():
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in procs:
        p.join()
    return 0
