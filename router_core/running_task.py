"""The task running now, without a system call per question.

On Python 3.11 ``asyncio.current_task()`` first asks for the running loop, and that
check calls ``getpid()``, a system call, every time. ``asyncio.current_task(loop)``
with the loop given is one dict lookup. The request path asks for its task a few
times per request (the drain's count, the exchange's deadline), always in the one
event loop of its thread, so :func:`current_task` remembers each thread's loop and
asks it directly. A loop that no longer runs (a test's previous loop) has no current
task; the question is then asked the slow way once, which also remembers the new loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

_loops = threading.local()


def current_task() -> asyncio.Task[Any] | None:
    """``asyncio.current_task()`` (RuntimeError without a running loop, as it)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is not None:
        task = asyncio.current_task(loop)
        if task is not None:
            return task
    task = asyncio.current_task()
    if task is not None:
        _loops.loop = task.get_loop()
    return task


__all__ = ["current_task"]
