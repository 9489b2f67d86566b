"""The one timeout model: every wait of a request is bounded here.

Upstream, per attempt (a deployment's :class:`Timeouts`, resolved by the catalog):

==============  =====================================================================
connect_s       opening the TCP (and TLS) connection (aiohttp's connect timeout)
first_token_s   send -> the status line of a JSON answer; send -> the first translated
                chunk of a stream (a partial event, or events the translator turns into
                nothing, never count as the first token)
idle_s          silence between two reads of a body, JSON or stream (a stream: the
                socket's read timeout until its first chunk, then the process's
                ``upstream.IdleSweep``; a JSON body: the exchange's deadline in the
                process's ``DeadlineSweep``; the reader's own timer for in-process
                upstreams)
total_s         send -> last byte, JSON bodies and streams alike; never later than the
                request's budget (``[upstream] total_timeout_s`` over all attempts)
==============  =====================================================================

A JSON exchange runs under one deadline (:class:`AttemptClock.json_phase`): the
first-token deadline until the headers arrived, then the total deadline and the idle
bound after the body's last read, so a body that trickles a byte at a time ends at
``total_s``. No timer handle is made for it: one :class:`DeadlineSweep` task per
process checks every exchange's deadline (every eighth of the shortest bound among the
exchanges waiting, at least once a second), as the other sweeps below check streams
and writes. A stream's wait for its headers is bounded the same way. A stream carries
a timer only from its headers until its first chunk, when they did not come together;
after that the idle sweep bounds its silences (a read that waited ``idle_s``, checked
every eighth of it) and the total deadline is checked as chunks arrive, so a flowing
stream costs no timer.

Client, per response (:class:`ClientWriteWatch`): output the client does not accept
for ``[server] client_write_timeout_s`` (no byte of the pending output taken, as
nginx's ``send_timeout``) aborts the connection, JSON answers and streams alike.
One sweeper task per process checks the responses being written; a response costs
two dict operations, no timer.

Client, per stream (:class:`KeepAliveSweep`): a keep-alive comment after
``[server] sse_keepalive_s`` without a write, from one sweeper task per process too.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import structlog
from aiohttp import web

from router_core.errors import UpstreamTimeout
from router_core.running_task import current_task

log = structlog.get_logger("viberouter.timeouts")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Resolved per-deployment timeouts, in seconds."""

    first_token_s: float
    idle_s: float
    total_s: float
    connect_s: float | None = None  # None: the [upstream] connect_timeout_s


@dataclass(slots=True)
class AttemptClock:
    """The deadlines of one upstream attempt (loop-independent monotonic seconds)."""

    start: float
    first_token_at: float
    deadline: float
    idle_s: float
    connect_s: float | None

    @classmethod
    def begin(cls, tm: Timeouts, request_deadline: float) -> AttemptClock:
        """Start an attempt now, within the request's remaining budget."""
        now = time.monotonic()
        deadline = min(now + tm.total_s, request_deadline)
        return cls(now, min(now + tm.first_token_s, deadline), deadline, tm.idle_s, tm.connect_s)

    def first_token_left(self) -> float:
        """Seconds until the first-token deadline (never negative)."""
        return max(0.0, self.first_token_at - time.monotonic())

    def left(self) -> float:
        """Seconds until the attempt's total deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def over(self) -> bool:
        """True once the total deadline passed."""
        return time.monotonic() >= self.deadline

    def expired(self, *, first_seen: bool) -> UpstreamTimeout:
        """The timeout error for a wait that just ran out, naming which bound it was."""
        if not first_seen:
            return UpstreamTimeout(detail="no first token in time")
        if time.monotonic() >= self.deadline:
            return UpstreamTimeout(detail="deployment total timeout")
        return UpstreamTimeout(detail="idle timeout between upstream chunks")

    def json_phase(self, sweep: DeadlineSweep) -> JsonTimer:
        """One deadline for a JSON exchange (``with clock.json_phase(sweep) as
        timer``), watched by the process's ``sweep``: the first-token deadline until
        the headers arrived (``headers_arrived()``), then the total deadline and the
        body's idle bound."""
        return JsonTimer(self, sweep)


class JsonTimer:
    """The deadline of one JSON exchange (see :meth:`AttemptClock.json_phase`).

    No timer handle of its own: the process's :class:`DeadlineSweep` checks it, as
    the idle, keep-alive and write sweeps check flowing streams, so an exchange costs
    two dict operations where a timer handle cost about 2.4 us in one process (its
    creation, its cancellation and the event loop closing it). Until the headers
    arrived the first-token deadline applies; after, whichever comes first, the total
    deadline or ``idle_s`` after the last read of the body (``read()``), so a body
    that trickles a byte at a time ends at ``total_s``. It fires up to an eighth of
    its shortest bound late (at most the sweep's one-second tick). On expiry it
    cancels the task and turns that cancellation into the attempt's UpstreamTimeout,
    as ``asyncio.timeout`` would (a cancellation from elsewhere passes through)."""

    __slots__ = (
        "_cancelling",
        "_fired",
        "_sweep",
        "_task",
        "clock",
        "headers",
        "interval",
        "last_read",
    )

    def __init__(self, clock: AttemptClock, sweep: DeadlineSweep) -> None:
        self.clock = clock
        self.headers = False
        self.last_read = 0.0
        self._fired = False
        self._sweep = sweep
        self._task: asyncio.Task[Any] | None = None
        self._cancelling = 0

    def __enter__(self) -> JsonTimer:
        task = self._task = current_task()
        if task is None:
            raise RuntimeError("JsonTimer must run inside a task")
        self._cancelling = task.cancelling()
        clock = self.clock
        #: The shortest bound it has: the sweep checks at least every eighth of it.
        self.interval = min(clock.first_token_at - clock.start, clock.idle_s)
        self._sweep.add(self, self.interval)
        return self

    def headers_arrived(self) -> None:
        """From now on the total deadline and the body's idle bound apply."""
        self.headers = True
        self.last_read = time.monotonic()

    def read(self) -> None:
        """A part of the body arrived (restarts the idle bound)."""
        self.last_read = time.monotonic()

    def due(self, now: float) -> bool:
        """Whether the bound that applies now has passed."""
        clock = self.clock
        if not self.headers:
            return now >= clock.first_token_at
        return now >= clock.deadline or now - self.last_read >= clock.idle_s

    def expire(self) -> None:
        """Cancel the exchange's task (``__exit__`` makes it the UpstreamTimeout)."""
        self._fired = True
        assert self._task is not None
        self._task.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sweep.discard(self)
        if self._fired:
            assert self._task is not None
            if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
                raise self.clock.expired(first_seen=self.headers) from exc


class _Pending:
    """One response being written: its connection and the progress last seen."""

    __slots__ = ("flushed", "request", "since")

    def __init__(self, request: web.BaseRequest, now: float) -> None:
        self.request = request
        self.flushed = -1
        self.since = now


#: A sweep checks each bound every eighth of it, but not more often than MIN_TICK_S
#: and at least every MAX_TICK_S.
MIN_TICK_S, MAX_TICK_S = 0.01, 1.0
#: Bounds shorter than this need a tick under MAX_TICK_S.
_SHORT_S = 8 * MAX_TICK_S


def tick_for(interval: float) -> float:
    """The tick that checks a bound of ``interval`` seconds often enough."""
    return max(interval / 8, MIN_TICK_S)


class Sweeper:
    """One task per process that wakes every ``tick`` seconds and runs :meth:`check`:
    what would otherwise be a timer per request or per stream."""

    def __init__(self) -> None:
        self.tick = MAX_TICK_S
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sweeper (in the running loop); again if its task ended."""
        if self._task is None or self._task.done():
            self._spawn()

    def _spawn(self) -> None:
        # In a context of its own: a sweep started or restarted while serving a request
        # would otherwise carry that request's context (its log fields) for good.
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self._run(), context=contextvars.Context())

    async def close(self) -> None:
        """Stop the sweeper."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def shorten(self, tick: float) -> None:
        """Tick every ``tick`` seconds from now on, when that is sooner: a sweep asleep
        for its old, longer tick starts over, so the new one holds at once."""
        if tick >= self.tick:
            return
        self.tick = tick
        task = self._task
        if task is not None:
            task.cancel()
            self._spawn()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.check(time.monotonic())

    def check(self, now: float) -> None:
        """One sweep (``now``: time.monotonic())."""
        raise NotImplementedError


class WatchSet(Sweeper, Generic[T]):
    """A :class:`Sweeper` over a set of items, each with an interval: checked every
    eighth of the shortest interval, so an item is late by at most an eighth."""

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[T, None] = {}

    def add(self, item: T, interval: float) -> None:
        """Watch ``item`` until :meth:`discard`."""
        self._items[item] = None
        if interval / 8 < self.tick:
            self.shorten(tick_for(interval))

    def discard(self, item: T) -> None:
        """Stop watching (idempotent)."""
        self._items.pop(item, None)

    def __len__(self) -> int:
        """Items watched now."""
        return len(self._items)

    def check(self, now: float) -> None:
        for item in list(self._items):
            if self.due(item, now):
                self.fire(item)

    def due(self, item: T, now: float) -> bool:
        """True when ``item`` needs :meth:`fire` now."""
        raise NotImplementedError

    def fire(self, item: T) -> None:
        """Act on an item that is due."""
        raise NotImplementedError


class ClientWriteWatch(Sweeper):
    """Aborts client connections whose output makes no progress (see module doc)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.tick = max(0.05, timeout_s / 4)
        self._pending: dict[int, _Pending] = {}

    def start(self) -> None:
        """Start the sweeper (no-op when the timeout is off)."""
        if self.timeout_s > 0:
            super().start()

    def watch(self, request: web.BaseRequest) -> int:
        """Watch the writes of ``request`` until :meth:`unwatch` with the returned token."""
        token = id(request)
        self._pending[token] = _Pending(request, time.monotonic())
        return token

    def unwatch(self, token: int) -> None:
        """Stop watching (idempotent)."""
        self._pending.pop(token, None)

    def check(self, now: float) -> None:
        for token, p in list(self._pending.items()):
            if self._stalled(p, now):
                self._pending.pop(token, None)
                _abort(p.request)

    def _stalled(self, p: _Pending, now: float) -> bool:
        transport = p.request.transport
        if transport is None or transport.is_closing():
            return False
        buffered = transport.get_write_buffer_size()
        flushed = p.request.writer.output_size - buffered if p.request.writer else 0
        if buffered == 0 or flushed != p.flushed:
            p.flushed, p.since = flushed, now  # nothing waiting, or the client took bytes
            return False
        return now - p.since >= self.timeout_s


class Silent(Protocol):
    """A stream the :class:`KeepAliveSweep` keeps alive."""

    keepalive: float  # seconds without a write before a keep-alive goes out
    last_write: float  # time.monotonic() of the stream's last write

    def ping(self) -> None:
        """Send one keep-alive (without waiting for it)."""


class KeepAliveSweep(WatchSet[Silent]):
    """Sends the keep-alives of every open stream from one task per process.

    A stream is a dict entry, checked every eighth of its keep-alive interval, so a
    keep-alive goes out after 1 to 1.125 intervals of silence. A re-armed timer per
    stream did the same at about 0.5 KB of each held stream (its handle, callback and
    libuv timer), 5 MB of 10,000 held streams."""

    def due(self, item: Silent, now: float) -> bool:
        return now - item.last_write >= item.keepalive

    def fire(self, item: Silent) -> None:
        item.ping()


class DeadlineSweep(WatchSet[JsonTimer]):
    """Fires the deadlines of every JSON exchange (and every stream's wait for its
    headers) from one task per process (:class:`JsonTimer`). It starts with the
    first deadline it is given, in that deadline's event loop."""

    #: Seconds without a bound as short as the tick before the tick slows again.
    RELAX_S = 10.0

    def __init__(self) -> None:
        super().__init__()
        self._needed_at = 0.0

    def add(self, item: JsonTimer, interval: float) -> None:
        """Watch ``item`` until :meth:`discard` (its shortest bound: ``interval``).
        ``UpstreamClient.start`` starts the sweep; a sweep used without it (or whose
        task ended) starts here."""
        self.start()
        super().add(item, interval)
        if interval < _SHORT_S:  # it needs a short tick: keep one that short a while
            self._needed_at = time.monotonic()

    def check(self, now: float) -> None:
        """Fire what is due. The tick then follows the exchanges still waiting: once no
        bound has needed it for ``RELAX_S``, it slows to what they need, so one short
        bound (an attempt late in its request's budget) does not keep the sweep waking
        every 10 ms, and a deployment with short bounds and sparse traffic does not
        restart the sweep for each exchange."""
        shortest = _SHORT_S  # MAX_TICK_S when nothing shorter waits
        for item in list(self._items):
            if item.due(now):
                self.fire(item)
            elif item.interval < shortest:
                shortest = item.interval
        needed = tick_for(shortest)
        if needed <= self.tick:
            self._needed_at = now
        elif now - self._needed_at >= self.RELAX_S:
            self.tick = needed

    def due(self, item: JsonTimer, now: float) -> bool:
        return item.due(now)

    def fire(self, item: JsonTimer) -> None:
        self.discard(item)
        item.expire()


class WatchedResponse(web.Response):
    """A whole answer whose body write is watched by a :class:`ClientWriteWatch`. It is
    written by aiohttp after the handler returned, so the request is settled (limits,
    ledger, metrics) before the client holds its answer, as with any response."""

    def __init__(self, watch: ClientWriteWatch, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._watch = watch

    async def write_eof(self, data: bytes = b"") -> None:
        request = self._req
        if request is None:
            await super().write_eof(data)
            return
        token = self._watch.watch(request)
        try:
            await super().write_eof(data)
        finally:
            self._watch.unwatch(token)


def _abort(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        log.warning("client_write_timeout", path=request.path)
        transport.abort()
