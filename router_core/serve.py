"""Run the router: one process, or N workers on one port with SO_REUSEPORT.

With N workers, metrics use prometheus-client's multiprocess mode: every worker
writes its values to files in one directory (``PROMETHEUS_MULTIPROC_DIR``; a fresh
temporary one unless the operator sets it), and whichever worker answers a scrape
merges them all, so Prometheus sees one target with the sum of every worker.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import structlog
from aiohttp import web

from router_core import http_server
from router_core.logs import configure_logging, flush_logs, settings_secrets
from router_core.metrics import MULTIPROC_ENV
from router_core.metrics_server import attach_metrics, parse_listen
from router_core.settings import Settings

log = structlog.get_logger("viberouter.serve")
ADDRESS = web.AppKey("viberouter_address", str)

#: Allocations between two young-generation collections once serving (Python's default
#: is 700). A plain request allocates a few thousand container objects that reference
#: counting frees within the request; at 700 the collector ran several times per
#: request over objects about to die anyway, and promoted the in-flight ones of
#: other requests to older generations that are scanned again later.
GC_YOUNG_THRESHOLD = 20_000


def freeze_startup_heap() -> None:
    """Once listening: the objects start-up made (config, catalog, plugins, price
    tables) live as long as the process, so they leave the collector's generations
    (``gc.freeze``) and no collection walks them again; then the young generation is
    widened (``GC_YOUNG_THRESHOLD``). Cycles are still collected, only less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


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
        # Name a model this config really serves (an echo-less config has no "echo"):
        # its first route, else the first published provider model.
        listed = [r.name for r in state.catalog.listed()]
        routes = [name for name in listed if name in state.settings.routes]
        model = (routes or listed or ["MODEL"])[0]
        print(
            "\n  VibeRouter created a demo account and API key (shown once, stored hashed):\n"
            f"\n    {secret}\n\n"
            "  Try it:\n"
            f"    curl http://{address}/v1/chat/completions \\\n"
            f"      -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' \\\n"
            '      -d \'{"model": "' + model + '", '
            '"messages": [{"role": "user", "content": "Hello!"}]}\'\n',
            flush=True,
        )


async def _reload_on_sighup(app: web.Application) -> AsyncIterator[None]:
    """SIGHUP re-reads the config file (reload.py) while the router keeps serving."""
    from router_core.reload import Reloader
    from router_core.state import STATE

    state = app[STATE]
    reloader = Reloader(state, state.settings.source)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, reloader.request)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


@contextmanager
def pid_file(path: str) -> Iterator[None]:
    """``server.pid_file`` holds this process's id while it serves (for `viberouter
    reload`); removed at exit, and only if it still names this process."""
    if not path:
        yield
        return
    with open(path, "w", encoding="ascii") as f:
        f.write(f"{os.getpid()}\n")
    try:
        yield
    finally:
        try:
            with open(path, encoding="ascii") as f:
                mine = f.read().strip() == str(os.getpid())
            if mine:
                os.remove(path)
        except OSError:
            pass


async def _flush_logs(app: web.Application) -> None:
    flush_logs()


def run_one(settings: Settings, host: str, port: int, reuse_port: bool) -> None:
    from router_core.app import make_app

    _use_uvloop(settings.server.uvloop)
    configure_logging(
        settings.logging.format,
        settings.logging.level,
        secrets=settings_secrets(settings),
        batch=True,
    )
    if not check_http_parser():
        log.warning("slow_http_parser", hint="aiohttp's C extensions are not in use")
    app = make_app(settings)
    app[ADDRESS] = f"{host}:{port}"
    app.on_startup.append(_bootstrap_demo)
    app.on_cleanup.append(_flush_logs)
    app.cleanup_ctx.append(_reload_on_sighup)
    if settings.metrics.enabled:
        attach_metrics(app, settings.metrics.listen, reuse_port=reuse_port)

    def listening() -> None:
        freeze_startup_heap()
        log.info(
            "listening",
            host=host,
            port=port,
            backend=settings.state.backend,
            metrics=(settings.metrics.listen or "main port") if settings.metrics.enabled else "off",
        )

    http_server.run(
        app,
        settings.server,
        host=host,
        port=port,
        reuse_port=reuse_port,
        backlog=1024,
        on_listening=listening,
    )


def _run_worker(settings: Settings, host: str, port: int) -> None:
    """One of ``--workers N``: a start-up failure is its one line, not a traceback."""
    try:
        run_one(settings, host, port, reuse_port=True)
    except http_server.StartupError as exc:
        # One write(2) per line: two workers failing at once share the pipe, and print()
        # may hand the text and its newline to the OS separately, gluing their lines.
        sys.stderr.flush()
        os.write(2, f"viberouter: {exc}\n".encode())
        sys.exit(1)


def serve(settings: Settings, *, host: str | None, port: int | None, workers: int) -> int:
    host = host or settings.server.host
    port = port or settings.server.port
    if workers < 1:
        print("viberouter: --workers must be at least 1", file=sys.stderr)
        return 2
    if settings.metrics.enabled and settings.metrics.listen is not None:
        try:
            parse_listen(settings.metrics.listen)
        except ValueError as exc:
            print(f"viberouter: {settings.source}: {exc}", file=sys.stderr)
            return 4
    if workers == 1:
        with pid_file(settings.server.pid_file):
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
    with (
        pid_file(settings.server.pid_file),
        multiprocess_metrics(settings.metrics.enabled) as metrics_dir,
    ):
        ctx = multiprocessing.get_context("spawn")
        procs = [
            ctx.Process(target=_run_worker, args=(settings, host, port), name=f"viberouter-{i}")
            for i in range(workers)
        ]
        for p in procs:
            p.start()

        def stop(*_: object) -> None:
            for p in procs:
                if p.is_alive():
                    p.terminate()

        def reload(*_: object) -> None:
            for p in procs:
                if p.is_alive() and p.pid is not None:
                    os.kill(p.pid, signal.SIGHUP)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)
        for p in procs:
            p.join()
            if metrics_dir is not None and p.pid is not None:
                mark_dead(p.pid, metrics_dir)
    # A worker that could not start (its one line is on stderr) fails the whole run.
    return 0 if all(p.exitcode == 0 for p in procs) else 1


def mark_dead(pid: int, metrics_dir: str) -> None:
    """Drop a finished worker's live gauges (in-flight, open streams) from the merge."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, metrics_dir)  # type: ignore[no-untyped-call]


@contextmanager
def multiprocess_metrics(enabled: bool) -> Iterator[str | None]:
    """Put spawned workers in prometheus-client's multiprocess mode for the duration.

    Uses ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it (they own its clean-up
    and must empty it before a start), else a new temporary directory removed at exit.
    The variable is set in this process's environment, which spawned workers inherit.
    """
    if not enabled:
        yield None
        return
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        yield given
        return
    path = tempfile.mkdtemp(prefix="viberouter-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
