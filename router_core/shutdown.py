"""Stopping a serving process: the signals, then the drain, then clean-up.

aiohttp's own handling (``handle_signals=True``) raises GracefulExit out of the
event loop; ``asyncio.run`` then cancels every task at once, so requests in flight
were cut with no error event and logged as 499 whatever ``shutdown_timeout`` said.
Here the first SIGTERM or SIGINT only sets an event, and :func:`drain_and_stop`
runs the drain while the loop serves on:

1. readiness off (``/readyz`` 503) and the listeners closed (new connections are
   refused); a request that still arrives on a kept-alive connection is served
   and its connection closed after the answer (see boundary.py);
2. requests in flight run until they end or ``shutdown_timeout_s`` passes;
3. those left are cut (drain.py): streams get the in-band error event, JSON
   requests not yet answered a 503; they get :data:`CUT_GRACE_S` to write it;
4. the runner's clean-up closes what remains and the app's clean-up flushes the
   usage ledger, once.

A second signal at least :data:`REPEAT_S` after the first cuts everything at once
(step 3 with no wait) and exits; should clean-up hang, the process exits
:data:`FORCE_EXIT_S` later regardless. Signals closer together than
:data:`REPEAT_S` count as one: a supervisor that signals a whole process group
while ``serve --workers`` forwards the signal would otherwise force every worker.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import structlog
from aiohttp import web

from router_core.drain import Drain
from router_core.logs import flush_logs

log = structlog.get_logger("viberouter.shutdown")

#: Time a cut request has to write its error event or 503.
CUT_GRACE_S = 1.0
#: A second signal closer than this to the first is the same request to stop.
REPEAT_S = 1.0
#: After a forcing signal, the longest the clean-up may take before the process exits.
FORCE_EXIT_S = 3.0


class StopSignals:
    """SIGTERM / SIGINT handlers: the first asks for a drain, a second forces it."""

    __slots__ = ("_first_at", "_loop", "force", "requested")

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.force = asyncio.Event()
        self._first_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.add_signal_handler(sig, self._received, sig)

    def uninstall(self) -> None:
        if self._loop is None:
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._loop.remove_signal_handler(sig)
        self._loop = None

    def _received(self, sig: signal.Signals) -> None:
        now = time.monotonic()
        if not self.requested.is_set():
            self._first_at = now
            log.info("stop_requested", signal=sig.name)
            self.requested.set()
        elif now - self._first_at < REPEAT_S:
            return
        elif not self.force.is_set():
            log.warning("stop_forced", signal=sig.name)
            self.force.set()
            assert self._loop is not None
            self._loop.call_later(FORCE_EXIT_S, _exit_now)
        else:
            _exit_now()


def _exit_now() -> None:
    # The clean-up did not finish: leave without it (what SIGKILL would do, with a
    # log line). The ledger's batches are atomic, so none is half written.
    log.error("stop_forced_exit")
    flush_logs()
    os._exit(1)


async def drain_and_stop(
    runner: web.AppRunner, drain: Drain, deadline_s: float, signals: StopSignals
) -> None:
    """Steps 1-3 of the module docstring; the caller then cleans the runner up."""
    for site in list(runner.sites):
        await site.stop()
    drain.start()
    if not await drain.wait(deadline_s, signals.force):
        cut = drain.cut_all()
        log.info("drain_deadline", cut=cut, forced=signals.force.is_set())
        await drain.wait(CUT_GRACE_S, asyncio.Event())
    result = drain.result()
    log.info(
        "drain_finished",
        finished=result.finished,
        cut=result.cut,
        left=drain.in_flight,
        seconds=result.seconds,
    )


__all__ = ["CUT_GRACE_S", "FORCE_EXIT_S", "REPEAT_S", "StopSignals", "drain_and_stop"]
