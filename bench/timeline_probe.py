"""Bench-only launcher for ``bench.timeline``: the router (or the bare pass-through)
with timestamping wrappers around the steps of a request's path.

Nothing here is imported by the router itself: the wrappers are installed by
monkeypatching in this process only, then the real ``serve`` (or the pass-through's
``main``) runs. Each wrapper appends ``(step, perf_counter_ns, loop iterations)`` to
one list, written as JSON to ``--out`` when the process exits (SIGTERM drains and
returns normally). ``--hops`` runs on asyncio's own event loop instead of uvloop
and counts its iterations (``_run_once``), which uvloop does not expose.

Run: ``python -m bench.timeline_probe --out marks.json [--hops] router --config C serve``
or ``... passthrough --port P --upstream URL``.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKS: list[tuple[str, int, int]] = []
_HOPS = [0]
_clock = time.perf_counter_ns


def mark(step: str) -> None:
    """Record that ``step`` was reached now."""
    MARKS.append((step, _clock(), _HOPS[0]))


def wrap_sync(owner: Any, attr: str, before: str | None, after: str | None = None) -> None:
    """Mark ``before`` on entry to ``owner.attr`` and ``after`` on its return."""
    orig = getattr(owner, attr)

    @functools.wraps(orig)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            MARKS.append((before, _clock(), _HOPS[0]))
        out = orig(*args, **kwargs)
        if after:
            MARKS.append((after, _clock(), _HOPS[0]))
        return out

    setattr(owner, attr, wrapper)


def wrap_async(owner: Any, attr: str, before: str | None, after: str | None = None) -> None:
    """As :func:`wrap_sync` for a coroutine function (``after``: when its await returns)."""
    orig = getattr(owner, attr)

    @functools.wraps(orig)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before:
            MARKS.append((before, _clock(), _HOPS[0]))
        out = await orig(*args, **kwargs)
        if after:
            MARKS.append((after, _clock(), _HOPS[0]))
        return out

    setattr(owner, attr, wrapper)


def _probe_aiohttp() -> None:
    """The steps every aiohttp proxy has: bytes in and out on both sides."""
    from aiohttp import client, client_proto, http_writer, web_protocol

    _mark_reads(web_protocol.RequestHandler, "server: request bytes received")
    wrap_async(web_protocol.RequestHandler, "_handle_request", "server: request task runs")
    wrap_async(
        client.ClientSession,
        "_request",
        "upstream: request started",
        "upstream: response headers parsed",
    )
    _mark_reads(client_proto.ResponseHandler, "upstream: bytes received")

    def step(writer: Any, data: Any) -> str:
        if isinstance(writer._protocol, client_proto.ResponseHandler):
            return "upstream: request written"
        first = data if isinstance(data, bytes) else next(iter(data), b"")
        headers_only = first is data and first.startswith(b"HTTP/") and first.endswith(b"\r\n\r\n")
        return "server: headers written" if headers_only else "server: body bytes written"

    for attr in ("_write", "_writelines"):
        orig = getattr(http_writer.StreamWriter, attr)

        def write(self: Any, data: Any, _orig: Callable[..., None] = orig) -> None:
            data = data if isinstance(data, bytes) else tuple(data)
            MARKS.append((step(self, data), _clock(), _HOPS[0]))
            _orig(self, data)

        setattr(http_writer.StreamWriter, attr, write)


def _mark_reads(protocol: Any, step: str) -> None:
    """Mark a protocol's reads; aiohttp re-enters ``data_received(b"")`` to resume
    parsing after a pause, which is no read."""
    orig = protocol.data_received

    def data_received(self: Any, data: bytes) -> None:
        if data:
            MARKS.append((step, _clock(), _HOPS[0]))
        orig(self, data)

    protocol.data_received = data_received


def _probe_router() -> None:
    """The router's own steps, wrapped where their callers look them up."""
    from aiohttp import web

    from router_core import (
        app,
        attempts,
        dispatch,
        exchange,
        pipeline,
        stream_iter,
        streaming,
        upstream,
    )

    if hasattr(app, "router_middleware"):
        # a base from before the boundary was folded into the handlers (issue 20)
        orig_mw = app.router_middleware

        @web.middleware
        async def middleware(request: Any, handler: Any) -> Any:
            MARKS.append(("boundary entered", _clock(), _HOPS[0]))
            return await orig_mw(request, handler)

        app.router_middleware = middleware
    else:
        _probe_boundary()
    wrap_async(pipeline, "run", "pipeline entered")
    _rebind_handlers(pipeline.run)
    wrap_async(pipeline, "authenticate", None, "authenticated")
    wrap_async(pipeline, "read_body", None, "body read")
    wrap_sync(pipeline, "plan_call", "decoded", "planned")
    wrap_async(pipeline, "admit", None, "admitted")
    # open_stream since the relay is awaited in pipeline.run; respond_stream in a base before
    opener = "open_stream" if hasattr(pipeline, "open_stream") else "respond_stream"
    wrap_async(pipeline, opener, "dispatch starts")
    wrap_async(attempts.AttemptLoop, "run", "attempt loop entered")
    wrap_sync(attempts.AttemptLoop, "_build", "building upstream request", "upstream request built")
    wrap_async(exchange, "open_response", "exchange entered")
    wrap_async(upstream.UpstreamClient, "send", "upstream.send called", "upstream.send returned")
    wrap_async(exchange, "_pre_read", "first read awaited", "first batch handed over")
    wrap_sync(stream_iter.ChunkReader, "feed_forwarding", "reader fed", "chunks translated")
    wrap_sync(stream_iter.ChunkReader, "feed", "reader fed", "chunks translated")
    wrap_async(dispatch, "stream_exchange", None, "stream opened")
    wrap_async(pipeline, "relay", "relay entered")
    wrap_async(streaming.ClientStream, "prepare", "response prepare", "response prepared")


def _rebind_handlers(run: Any) -> None:
    """Handlers that are ``functools.partial(pipeline.run, ...)`` (bound at import,
    before the probes) call the wrapped ``run`` too."""
    from router_core.handlers import chat, messages

    for module, name in ((chat, "chat_completions"), (messages, "create_message")):
        handler = getattr(module, name)
        if isinstance(handler, functools.partial):
            setattr(module, name, functools.partial(run, *handler.args, **handler.keywords))


def _probe_boundary() -> None:
    """Mark entry to the request boundary each route's handler is wrapped in."""
    from router_core import boundary

    orig_bounded = boundary.bounded

    def bounded(handler: Any) -> Any:
        inner = orig_bounded(handler)

        @functools.wraps(inner)
        async def entered(request: Any) -> Any:
            MARKS.append(("boundary entered", _clock(), _HOPS[0]))
            return await inner(request)

        return entered

    boundary.bounded = bounded  # type: ignore[assignment]


def _count_hops() -> None:
    """Count asyncio's loop iterations (uvloop is kept out of this process)."""
    from asyncio import base_events

    orig = base_events.BaseEventLoop._run_once  # type: ignore[attr-defined]

    def run_once(self: Any) -> None:
        _HOPS[0] += 1
        orig(self)

    base_events.BaseEventLoop._run_once = run_once  # type: ignore[attr-defined]
    sys.modules["uvloop"] = None  # type: ignore[assignment]  # ImportError: asyncio's loop


def _dump(path: Path) -> None:
    path.write_text(json.dumps(MARKS))


def main() -> None:
    """Install the probes, then run the real server with the remaining arguments."""
    parser = argparse.ArgumentParser(prog="python -m bench.timeline_probe")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hops", action="store_true", help="asyncio's loop, iterations counted")
    parser.add_argument("--base", type=Path, help="import router_core from this checkout")
    parser.add_argument("target", choices=("router", "passthrough"))
    args, rest = parser.parse_known_args()
    if args.base is not None:
        sys.path[:0] = [str(args.base), str(args.base / "plugins" / "viberouter-openai")]
    if args.hops:
        _count_hops()
    atexit.register(_dump, args.out)
    _probe_aiohttp()
    if args.target == "passthrough":
        from bench import passthrough

        sys.argv = ["passthrough", *rest]
        passthrough.main()
        return
    _probe_router()
    if args.hops:
        from router_core import serve

        serve._use_uvloop = lambda enabled: None
    from router_core.cli import main as cli_main

    sys.argv = ["viberouter", *rest]
    sys.exit(cli_main())


if __name__ == "__main__":
    main()
