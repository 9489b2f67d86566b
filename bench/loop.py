"""Event loop helper shared by the harness's processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_fast(coro: Coroutine[Any, Any, T]) -> T | None:
    """Run ``coro`` on uvloop when installed (as the router does); Ctrl-C ends quietly."""
    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop
        except ImportError:
            return asyncio.run(coro)
        return uvloop.run(coro)
    return None


def run_server(app: Any, port: int) -> None:
    """Serve an aiohttp ``app`` on 127.0.0.1:``port`` until stopped, on uvloop when
    installed (as the router does), without aiohttp's access log."""
    from aiohttp import web

    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = None
    web.run_app(
        app, host="127.0.0.1", port=port, access_log=None, print=None, backlog=1024, loop=loop
    )
