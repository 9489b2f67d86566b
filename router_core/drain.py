"""The requests a process is serving, and how a stopping process lets them finish.

The request boundary (boundary.py) enters every request here and leaves it when
its handler returns. When the process is told to stop (shutdown.py), :meth:`Drain.start`
turns readiness off; requests in flight run on; those still running at the deadline
are *cut*: the drain marks each with :class:`~router_core.errors.ShuttingDown` and
cancels its task. Whoever catches that cancellation first asks :func:`take_cut`: a
stream relay turns it into the stream's in-band error event (the dialect's error
frame) and ends the stream; the boundary re-raises it as that RouterError
when no byte of the answer has left, so the client gets a 503 in its dialect. Either
way the handler's own ``finally`` runs as for any cancellation, so the request is
billed once, for what it used. A relay of another shape must do the same in its
``except asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import structlog
from aiohttp import web

from router_core.errors import RouterError, ShuttingDown
from router_core.running_task import current_task

log = structlog.get_logger("viberouter.drain")

#: Set on a request the drain cut: the error its client is told.
CUT: web.RequestKey[RouterError] = web.RequestKey("viberouter_drain_cut", RouterError)


@dataclass(frozen=True, slots=True)
class DrainResult:
    """How a drain ended: requests that finished on their own, requests cut."""

    finished: int
    cut: int
    seconds: float


class Drain:
    """Requests in flight in this process, and the drain that ends them."""

    __slots__ = ("_cut_tasks", "_idle", "_started_at", "_tasks", "cut", "draining", "finished")

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[object], web.Request] = {}
        self._cut_tasks: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._started_at = 0.0
        self.draining = False
        #: Requests that ended on their own since the drain started.
        self.finished = 0
        #: Requests the drain cut at its deadline.
        self.cut = 0

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def enter(self, request: web.Request) -> asyncio.Task[object] | None:
        """Count ``request`` (served by the current task) until :meth:`leave`."""
        task = current_task()
        if task is not None:
            self._tasks[task] = request
            self._idle.clear()
        return task

    def leave(self, task: asyncio.Task[object] | None) -> None:
        if task is None or self._tasks.pop(task, None) is None:
            return
        if not self.draining:
            return
        if not self._tasks:
            self._idle.set()
        if task in self._cut_tasks:
            self._cut_tasks.discard(task)
        else:
            self.finished += 1

    def start(self) -> None:
        """Stop being ready; from now on the drain counts requests as they end."""
        if self.draining:
            return
        self.draining = True
        self._started_at = time.monotonic()
        if not self._tasks:
            self._idle.set()
        log.info("drain_started", in_flight=len(self._tasks))

    async def wait(self, within_s: float, force: asyncio.Event) -> bool:
        """Wait until nothing is in flight, ``within_s`` passes or ``force`` is set;
        True when nothing is left."""
        if not self._tasks:
            return True
        idle = asyncio.ensure_future(self._idle.wait())
        forced = asyncio.ensure_future(force.wait())
        try:
            await asyncio.wait(
                (idle, forced), timeout=max(within_s, 0.0), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            idle.cancel()
            forced.cancel()
        return not self._tasks

    def cut_all(self) -> int:
        """Cut every request still in flight (see the module docstring)."""
        count = 0
        for task, request in list(self._tasks.items()):
            if task.done() or task in self._cut_tasks:
                continue
            request[CUT] = ShuttingDown()  # one each: an exception is raised in its task
            self._cut_tasks.add(task)
            task.cancel("drain deadline")
            count += 1
        self.cut += count
        return count

    def result(self) -> DrainResult:
        seconds = time.monotonic() - self._started_at if self.draining else 0.0
        return DrainResult(self.finished, self.cut, round(seconds, 3))


def take_cut(request: web.Request) -> RouterError | None:
    """The error to tell the client when the cancellation being handled is the
    drain's cut of ``request``, else None (then the cancellation must propagate).

    Taking it ends the cancellation of the current task, so the caller can still
    write its answer; it can be taken once."""
    err: RouterError | None = request.pop(CUT, None)
    if err is None:
        return None
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        task.uncancel()
    return err


__all__ = ["CUT", "Drain", "DrainResult", "take_cut"]
