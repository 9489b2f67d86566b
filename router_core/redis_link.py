"""One Redis or Redis Cluster client with every wait bounded (store and limiter share it).

Imported only with ``state.backend = "redis"``: redis-py costs start-up time.

* **Pool.** At most ``pool_size`` calls run at once per client (so at most that many
  connections per process, per node in a cluster); the next ones wait for a free slot up
  to ``pool_timeout`` seconds. A full pool is waiting, never a failure: only a wait past
  the bound is one (Redis is then not keeping up), reported as ``RedisUnavailable``.
  redis-py's own pool would raise ``MaxConnectionsError`` instead, and its cluster client
  has no waiting pool at all; the semaphore in front of both is why neither ever does.
* **Deadline.** ``deadline`` gives a call ``timeout`` seconds of Redis silence. While
  other calls keep getting replies, or the event loop was busy for half the window
  (``LoopWatch``: the reply may sit unread in the socket), a slow call is queued behind
  its own process's work, not stuck on Redis, so the deadline is re-armed instead of
  fired, up to ``hard_timeout`` in all. A frozen Redis costs ``timeout`` (a little more under a
  burst); a busy process never turns its own latency into Redis failures. A cancelled
  redis-py call drops its connection, so no reply is ever read by the wrong caller.
  A ``deadline_only`` link (the limiter's) has no socket timeout behind the deadline:
  each of its calls runs under ``deadline``, and ``ping`` and the cluster's first
  topology lookup under ``hard_timeout``.
* **Cluster.** The limiter talks to the whole cluster (its keys spread by account hash
  tag). The store pins its client to the primary that serves its one hash tag
  (``pin_tag``): redis-py's cluster client cannot run WATCH transactions on an event
  loop, a plain client on that node can. A ``MOVED`` reply (resharding, failover) makes
  the next call look the node up again.
* **Scripts** run as EVALSHA, and as EVAL when a node does not know the script yet (a
  restarted Redis, or a cluster node the script was never loaded on). On a plain
  (not cluster) link they take a lean path past redis-py's client (``command``): the
  commands issued in one turn of the event loop are packed by hiredis and pipelined
  in one write on one connection of the link's own, each reply handed to its caller in
  order (Redis runs them one after the other, each script atomic, so every limit
  stays exact). redis-py's ``execute_command`` (pool lock, retry wrapper, event
  dispatch, packing in Python) and a write per call cost as much CPU as the router's
  whole admission; its ``Connection`` (connecting, AUTH, TLS, the reply parser) still
  does the I/O. A batch whose callers all gave up (their deadlines fired) stops and
  drops its connection, so a late reply is never read.
* **Errors** stay redis-py's (``RedisError`` and its ``ConnectionError`` family, which
  includes ``BusyLoadingError``); callers decide what a failure means.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, NoScriptError, ResponseError
from redis.typing import EncodableT, KeyT

from router_core.settings import StateSettings

_Pack = Callable[[tuple[Any, ...]], bytes]
_pack: _Pack | None
try:  # a dependency (redis[hiredis]); bench.ab may hide it to measure without
    from hiredis import pack_command as _pack
except ImportError:  # pragma: no cover
    _pack = None

T = TypeVar("T")


class RedisUnavailable(RedisConnectionError):
    """Redis did not answer within the bound (pool wait or deadline); a
    ``ConnectionError`` so that every ``except RedisError`` treats it as a backend failure."""


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """How to reach Redis: from ``[state]`` in the config."""

    url: str
    cluster: bool = False
    #: Redis time a request-path call may take (admission, settlement, key lookups).
    timeout: float = 0.05
    #: Calls at once per client; more wait.
    pool_size: int = 128
    #: Longest wait for a free connection.
    pool_timeout: float = 2.0

    @property
    def hard_timeout(self) -> float:
        """Cap of a re-armed deadline, of a start-up PING and of connecting, and the
        socket timeout of the request path's other calls."""
        return max(1.0, 20 * self.timeout)


def redis_options(url: str, state: StateSettings | None) -> RedisOptions:
    """Options from a ``StateSettings`` (``None``: the defaults, for tools and tests)."""
    if state is None:
        return RedisOptions(url)
    return RedisOptions(
        url,
        cluster=state.redis_cluster,
        timeout=state.redis_timeout_s,
        pool_size=state.redis_pool_size,
        pool_timeout=state.redis_pool_timeout_s,
    )


def _common(
    options: RedisOptions, decode_responses: bool, socket_timeout: float | None
) -> dict[str, Any]:
    # One immediate retry replaces a pooled connection that died with a restarted
    # Redis; more would only stall callers while Redis is really down.
    return {
        # None must be explicit: redis-py's default is 5 s.
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": socket_timeout or options.hard_timeout,
        "decode_responses": decode_responses,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        "max_connections": options.pool_size,
        # No CLIENT SETINFO round trips on every new connection: a burst opens many.
        "driver_info": None,
    }


def _with_address(url: str, host: str, port: int) -> str:
    """``url`` pointed at another node, credentials and TLS scheme kept."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    netloc = f"{userinfo}@{address}" if userinfo else address
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _slot_owner(options: RedisOptions, tag: str) -> tuple[str, int]:
    """Host and port of the primary serving hash tag ``tag``, asked of the seed node."""
    seed = aioredis.Redis.from_url(options.url, socket_timeout=options.hard_timeout)
    try:
        slot = int(await seed.cluster("KEYSLOT", "{" + tag + "}"))
        slots = await seed.cluster("SLOTS")
        for start, end, primary, *_ in slots:
            if int(start) <= slot <= int(end):
                host = primary[0].decode() if isinstance(primary[0], bytes) else primary[0]
                # An empty host means "the address you reached me at" (the seed's).
                seed_host = str(seed.connection_pool.connection_kwargs.get("host", ""))
                return host or seed_host, int(primary[1])
    finally:
        await seed.aclose()
    raise RedisConnectionError(f"no cluster node serves slot {slot}")


class RedisLink:
    """A client plus the bounded pool and deadline of the module docstring."""

    def __init__(
        self,
        options: RedisOptions,
        *,
        decode_responses: bool = False,
        request_path: bool = True,
        deadline_only: bool = False,
        pin_tag: str | None = None,
    ) -> None:
        self.options = options
        # Request-path clients rely on ``deadline``; the socket timeout is the backstop.
        # Others (admin, ledger) allow slow replies such as a large usage report.
        # ``deadline_only``: every call of this link's users runs under ``deadline``
        # (or ``ping``), so no backstop: with one, redis-py wraps every write in
        # ``asyncio.wait_for`` (a task per call) and every read in a timeout, about
        # 8% of a Redis-backed router's CPU. Connecting stays bounded either way.
        self._deadline_only = deadline_only
        timeout = None if deadline_only else options.hard_timeout if request_path else 10.0
        self._common = _common(options, decode_responses, timeout)
        self._pin_tag = pin_tag if options.cluster else None
        self._client: Any = None
        if self._pin_tag is None:
            self._client = (
                RedisCluster.from_url(options.url, cluster_error_retry_attempts=1, **self._common)
                if options.cluster
                else aioredis.Redis.from_url(options.url, **self._common)
            )
        self._slots = _Slots(options.pool_size)
        self._replied = float("-inf")  # loop time of the last reply to a deadline call
        self._watch = LoopWatch()
        self._ready = not options.cluster
        self._resolving = asyncio.Lock()
        # ``command``'s connections between calls; the call slots bound how many exist.
        self._idle: list[AbstractConnection] = []
        # Commands of this turn of the loop, sent together at its end (``command``).
        self._batch: _Batch | None = None
        self._exchanges: set[asyncio.Task[None]] = set()

    @property
    def client(self) -> aioredis.Redis:
        """The redis-py client (a ``RedisCluster`` for the limiter in cluster mode)."""
        if self._client is None:
            raise RedisConnectionError("the Redis Cluster node is not resolved yet")
        return cast(aioredis.Redis, self._client)

    async def resolve(self) -> None:
        """Cluster: learn the topology once before any concurrent use (redis-py's
        cluster client breaks connections that a first burst shares while it
        initializes); pinned to a hash tag: find (again) the node that serves it."""
        if self._ready:
            return
        async with self._resolving:
            if self._ready:
                return
            if self._pin_tag is not None and self._client is None:
                host, port = await _slot_owner(self.options, self._pin_tag)
                url = _with_address(self.options.url, host, port)
                self._client = aioredis.Redis.from_url(url, **self._common)
            elif isinstance(self._client, RedisCluster):
                # Without a socket timeout (``deadline_only``) nothing else bounds it.
                await self._bounded(self._client.initialize(), "learn the cluster's slots")
            self._ready = True

    async def _bounded(self, call: Awaitable[T], what: str) -> T:
        """``call`` within ``hard_timeout`` in all: for the calls outside ``deadline``."""
        hard = self.options.hard_timeout
        try:
            return await within(call, hard, hard)
        except TimeoutError as exc:
            raise RedisUnavailable(f"Redis did not {what} within {hard} s") from exc

    async def moved(self) -> None:
        """The pinned node no longer serves the tag: look it up again at the next call."""
        if self._pin_tag is not None and self._client is not None:
            client, self._client = self._client, None
            self._ready = False
            await client.aclose()

    async def _wait_slot(self) -> None:
        wait = self.options.pool_timeout
        try:
            await self._slots.wait(wait)
        except TimeoutError as exc:
            raise RedisUnavailable(f"no Redis connection free within {wait} s") from exc

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``pool_size`` call slots, waiting at most ``pool_timeout``.
        Not on a ``deadline_only`` link: nothing would bound the calls made inside."""
        if self._deadline_only:
            raise RuntimeError("a deadline_only RedisLink bounds each call: use deadline()")
        if not self._slots.take():
            await self._wait_slot()
        try:
            await self.resolve()
            yield
        except MovedError:
            await self.moved()
            raise
        finally:
            self._slots.release()

    async def deadline(self, call: Awaitable[T]) -> T:
        """Await a request-path call within the pool bound and ``timeout`` of Redis time."""
        # All in this one coroutine, no helper between the caller and redis-py: each
        # frame on the way is walked again every time the call suspends and resumes.
        if not self._slots.take():  # a free slot is taken at once: no timer, no await
            try:
                await self._wait_slot()
            except BaseException:
                _discard(call)
                raise
        try:
            if not self._ready:
                try:
                    await self.resolve()
                except BaseException:
                    _discard(call)
                    raise
            with self._watch:
                dog = _LinkWatchdog(self)
                try:
                    result = await call
                except asyncio.CancelledError:
                    dog.disarm()
                    if dog.timed_out():
                        raise RedisUnavailable(
                            f"Redis did not answer within {self.options.timeout} s"
                        ) from None
                    raise
                except ResponseError as exc:
                    dog.disarm()
                    self._replied = dog.now()  # an error reply is a reply
                    if isinstance(exc, MovedError):
                        await self.moved()
                    raise
                finally:
                    dog.disarm()
            self._replied = dog.now()
            return result
        finally:
            self._slots.release()

    async def ping(self) -> None:
        """Fail now, not at the first request, if Redis is unreachable."""
        await self.resolve()
        await self._bounded(self.client.ping(), "answer PING")

    async def command(self, *args: EncodableT, noscript: str | None = None) -> Any:
        """One command, the reply as Redis sent it (``ResponseError`` for an error reply);
        for an EVALSHA, ``noscript`` is the script's text, sent as EVAL on NOSCRIPT.

        Plain Redis: the commands issued in one turn of the event loop go out together,
        pipelined in one write on one connection of the link's own (``_Batch``).
        Cluster: through redis-py's client, which routes by key. Call it under
        ``deadline``: nothing here bounds the wait.
        """
        if self.options.cluster:
            client: Any = self.client  # redis-py leaves execute_command unannotated
            try:
                return await client.execute_command(*args)
            except NoScriptError:
                if noscript is None:
                    raise
                return await client.execute_command("EVAL", noscript, *args[2:])
        try:
            return await self._queued(args)
        except NoScriptError:
            if noscript is None:
                raise
            return await self._queued(("EVAL", noscript, *args[2:]))

    async def _queued(self, args: tuple[EncodableT, ...]) -> Any:
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch()
            asyncio.get_running_loop().call_soon(self._send_batch)
        reply = batch.add(args)
        try:
            return await reply
        except asyncio.CancelledError:
            batch.forsake()
            raise

    def _send_batch(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            task = asyncio.get_running_loop().create_task(self._exchange(batch))
            batch.task = task
            self._exchanges.add(task)
            task.add_done_callback(self._exchanges.discard)

    async def _exchange(self, batch: _Batch) -> None:
        """Send a batch, hand each reply to its caller. A connection found dead before
        any reply is replaced once at once (as the client's ``Retry`` does)."""
        conn: AbstractConnection | None = None
        try:
            client: Any = self.client
            conn = self._idle.pop() if self._idle else client.connection_pool.make_connection()
            packed = batch.packed(conn)
            for attempt in (1, 2):
                try:
                    await conn.send_packed_command(packed, check_health=False)
                    for reply in batch.replies:
                        try:
                            answer = await conn.read_response()
                        except ResponseError as exc:  # the connection stays in step
                            batch.answered += 1
                            if not reply.done():
                                reply.set_exception(exc)
                            continue
                        batch.answered += 1
                        if not reply.done():
                            reply.set_result(answer)
                    break
                except RedisConnectionError:
                    await conn.disconnect(nowait=True)
                    if attempt == 2 or batch.answered:
                        raise
        except BaseException as exc:
            # Cancelled (no caller waits any more: their deadlines fired) or broken:
            # a reply may still be on its way, so this socket is never read again.
            if conn is not None:
                await conn.disconnect(nowait=True)
            batch.fail(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self._idle.append(conn)

    async def aclose(self) -> None:
        """Close every connection."""
        client, self._client = self._client, None
        self._ready = not self.options.cluster
        for task in list(self._exchanges):
            task.cancel()
        await asyncio.gather(*self._exchanges, return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect()
        if client is not None:
            await client.aclose()


class _Batch:
    """Commands queued in one turn of the loop, and their callers' futures (in order)."""

    __slots__ = ("answered", "commands", "replies", "task")

    def __init__(self) -> None:
        self.commands: list[tuple[EncodableT, ...]] = []
        self.replies: list[asyncio.Future[Any]] = []
        self.task: asyncio.Task[None] | None = None
        self.answered = 0

    def add(self, args: tuple[EncodableT, ...]) -> asyncio.Future[Any]:
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.commands.append(args)
        self.replies.append(reply)
        return reply

    def packed(self, conn: AbstractConnection) -> list[bytes]:
        if _pack is not None:
            return [b"".join([_pack(args) for args in self.commands])]
        return conn.pack_commands(self.commands)

    def forsake(self) -> None:
        """A caller gave up: once none waits, stop reading replies nobody wants."""
        if self.task is not None and all(reply.done() for reply in self.replies):
            self.task.cancel()

    def fail(self, exc: BaseException) -> None:
        for reply in self.replies:
            if not reply.done():
                if isinstance(exc, Exception):
                    copy = _copy(exc)
                else:
                    copy = RedisConnectionError("the Redis connection was closed")
                copy.__cause__ = exc
                reply.set_exception(copy)


def _copy(exc: Exception) -> Exception:
    # One exception object raised in several tasks would collect all their tracebacks.
    try:
        return type(exc)(*exc.args)
    except Exception:  # a constructor that wants other arguments
        return RedisConnectionError(str(exc))


class Script:
    """A Lua script run by EVALSHA, falling back to EVAL where it is not cached."""

    def __init__(self, link: RedisLink, text: str) -> None:
        self._link = link
        self._text = text
        self._sha = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    def __call__(self, keys: Sequence[KeyT], args: Sequence[EncodableT]) -> Awaitable[Any]:
        """Run with ``keys`` and ``args``; the reply as Redis sent it."""
        # The link's coroutine itself, not one wrapping it: one frame less per resume.
        return self._link.command(
            "EVALSHA", self._sha, len(keys), *keys, *args, noscript=self._text
        )


def _discard(call: Awaitable[Any]) -> None:
    """Close a call refused before it ran (no free slot): it will never be awaited."""
    if inspect.iscoroutine(call) and inspect.getcoroutinestate(call) == "CORO_CREATED":
        call.close()


class _Slots:
    """``size`` call slots: taken at once when one is free, else waited for in turn
    (``asyncio.Semaphore.locked`` alone cost more than the rest of taking one)."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """Take a free slot now if there is one and nobody waits before us."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def wait(self, bound: float) -> None:
        """Wait in turn for a slot, ``TimeoutError`` past ``bound`` (see ``within``)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await within(waiter, bound, 3 * bound)
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we gave up: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the slot to the first waiter still waiting, else free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


async def within(
    call: Awaitable[T],
    budget: float,
    limit: float,
    excused: Callable[[], Callable[[], bool]] | None = None,
) -> T:
    """``call``, cancelled once ``budget`` seconds passed with the server silent, at
    most ``limit`` in all.

    Silence is excused, and the deadline re-armed, when the timer fires late by half the
    budget or more (the loop was busy: a reply may sit unread) or when the predicate that
    ``excused()`` returned at the window's start says so at its end: the caller knows the
    server answered others meanwhile, or the loop was too busy to read.
    Raises ``TimeoutError`` like ``asyncio.timeout``; a cancellation from outside passes.
    """
    dog = _Watchdog(budget, limit, excused)
    try:
        return await call
    except asyncio.CancelledError:
        dog.disarm()
        if dog.timed_out():
            raise TimeoutError from None
        raise
    finally:
        dog.disarm()


class _Watchdog:
    """The timer of ``within`` (its docstring has the rules), for the current task."""

    __slots__ = ("_budget", "_due", "_excused", "_handle", "_limit", "_loop", "_start",
                 "_task", "_window", "fired")  # fmt: skip

    def __init__(
        self,
        budget: float,
        limit: float,
        excused: Callable[[], Callable[[], bool]] | None = None,
    ) -> None:
        self._loop = loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._budget, self._limit, self._excused = budget, limit, excused
        self._start = loop.time()
        self._due = self._start + budget
        self.fired = False
        self._window: Callable[[], bool] | None = None
        self._open_window(self._start)
        # uvloop returns a plain Handle for a time already past
        self._handle: asyncio.Handle = loop.call_at(self._due, self._check)

    def _open_window(self, now: float) -> None:
        self._window = self._excused() if self._excused is not None else None

    def _window_excuses(self) -> bool:
        return self._window is not None and self._window()

    def _check(self) -> None:
        now = self._loop.time()
        late = now - self._due >= self._budget / 2
        if now - self._start >= self._limit or not (late or self._window_excuses()):
            self.fired = True
            self._task.cancel()
        else:
            self._open_window(now)
            self._due = min(now + self._budget, self._start + self._limit)
            self._handle = self._loop.call_at(self._due, self._check)

    def now(self) -> float:
        """The loop's time."""
        return self._loop.time()

    def disarm(self) -> None:
        """Stop the timer (again: harmless)."""
        self._handle.cancel()

    def timed_out(self) -> bool:
        """After a ``CancelledError``: True when this timer's was the only one (a
        timeout); one from outside as well stays a cancellation. Ask once."""
        return self.fired and self._task.uncancel() == 0


class _LinkWatchdog(_Watchdog):
    """``deadline``'s timer: silence is excused while Redis answered the link's other
    calls, or the loop was busy for half the window or more (it could not have read
    the answer): the call then waits on its own process, not on Redis."""

    __slots__ = ("_lag", "_link", "_since")

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        options = link.options
        super().__init__(options.timeout, options.hard_timeout)

    def _open_window(self, now: float) -> None:
        self._since, self._lag = now, self._link._watch.lag()

    def _window_excuses(self) -> bool:
        link = self._link
        return link._replied > self._since or link._watch.lag() - self._lag >= self._budget / 2


class LoopWatch:
    """How busy the event loop is: a ticker that runs while anyone waits.

    Every ``tick`` seconds a callback notes how late it ran; the sum of those delays
    (``lag``) grows by the time the loop was too busy to run a timer, i.e. to read a
    socket either. Costs nothing when nobody waits.
    """

    def __init__(self, tick: float = 0.005) -> None:
        self._tick = tick
        self._users = 0
        self._last = 0.0
        self._lag = 0.0
        self._handle: asyncio.Handle | None = None

    def __enter__(self) -> LoopWatch:
        self._users += 1
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._last = loop.time()
            self._handle = loop.call_at(self._last + self._tick, self._on_tick)
        return self

    def __exit__(self, *_: object) -> None:
        self._users -= 1

    def lag(self) -> float:
        """Seconds the loop has been busy past its timers, counting the tick now due."""
        if self._handle is None:
            return self._lag
        pending = asyncio.get_running_loop().time() - self._last - self._tick
        return self._lag + max(0.0, pending)

    def _on_tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._lag += max(0.0, now - self._last - self._tick)
        self._last = now
        self._handle = loop.call_at(now + self._tick, self._on_tick) if self._users else None
