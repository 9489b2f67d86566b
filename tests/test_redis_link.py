"""RedisLink against a real redis-server: a full pool waits, a frozen server costs the
deadline, a burst on a healthy server never times out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from router_core.redis_link import (
    LoopWatch,
    RedisLink,
    RedisOptions,
    RedisUnavailable,
    Script,
    within,
)
from tests.services import RedisServer, redis_server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


async def test_a_full_pool_means_waiting_not_errors(redis_url: str) -> None:
    link = RedisLink(RedisOptions(redis_url, pool_size=2))
    try:
        replies = await asyncio.gather(*(link.deadline(link.client.ping()) for _ in range(300)))
    finally:
        await link.aclose()
    assert replies == [True] * 300


async def test_waiters_for_a_slot_take_turns_and_one_cancelled_loses_none(
    redis_url: str,
) -> None:
    link = RedisLink(RedisOptions(redis_url, timeout=1.0, pool_size=1), deadline_only=True)
    done: list[str] = []

    async def use(name: str, hold: float) -> None:
        await link.deadline(asyncio.sleep(hold))  # holds the only slot meanwhile
        done.append(name)

    try:
        first = asyncio.create_task(use("first", 0.1))
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(use(name, 0.01)) for name in ("a", "b", "c")]
        await asyncio.sleep(0.02)
        waiters[1].cancel()
        await asyncio.gather(first, waiters[0], waiters[2])
        assert done == ["first", "a", "c"]
        assert waiters[1].cancelled()
        await asyncio.gather(*(use(f"n{i}", 0) for i in range(20)))  # the slot is free
        assert len(done) == 23
    finally:
        await link.aclose()


async def test_a_frozen_server_costs_the_deadline(own_redis: RedisServer) -> None:
    link = RedisLink(RedisOptions(own_redis.url, timeout=0.05, pool_size=1, pool_timeout=0.2))
    try:
        assert await link.deadline(link.client.ping())
        own_redis.freeze()
        t0 = time.monotonic()
        with pytest.raises(RedisUnavailable, match="did not answer"):
            await link.deadline(link.client.ping())
        assert time.monotonic() - t0 < 1.5  # the deadline is 50 ms; 1 s is its hard cap

        async def slow() -> None:  # holds the only connection slot longer than the wait
            async with link.slot():
                await asyncio.sleep(0.5)

        holder = asyncio.create_task(slow())
        await asyncio.sleep(0.05)
        with pytest.raises(RedisUnavailable, match="no Redis connection free"):
            await link.deadline(link.client.ping())
        await holder
        own_redis.thaw()
        assert await link.deadline(link.client.ping())  # back without a restart
    finally:
        await link.aclose()


async def test_a_deadline_only_link_is_bounded_without_a_socket_timeout(
    own_redis: RedisServer,
) -> None:
    """The limiter's link: no socket timeout (redis-py would wrap every write in a
    task), yet a frozen server still costs the deadline, PING its hard bound, and no
    unbounded ``slot()`` is handed out."""
    link = RedisLink(RedisOptions(own_redis.url, timeout=0.05), deadline_only=True)
    try:
        assert link.client.connection_pool.connection_kwargs["socket_timeout"] is None
        await link.ping()
        assert await link.deadline(link.client.ping())
        own_redis.freeze()
        t0 = time.monotonic()
        with pytest.raises(RedisUnavailable, match="did not answer"):
            await link.deadline(link.client.ping())
        assert time.monotonic() - t0 < 1.5
        t0 = time.monotonic()
        with pytest.raises(RedisUnavailable, match="PING"):
            await link.ping()
        assert time.monotonic() - t0 < 3.0  # hard_timeout is 1 s
        with pytest.raises(RuntimeError, match="deadline"):
            async with link.slot():
                pass
        own_redis.thaw()
        assert await link.deadline(link.client.ping())  # back without a restart
    finally:
        await link.aclose()


ECHO_OR_FAIL = "if ARGV[1] == 'fail' then return redis.error_reply('no') end return ARGV[1]"


async def test_calls_of_one_loop_turn_share_one_write_on_one_connection(
    own_redis: RedisServer,
) -> None:
    link = RedisLink(RedisOptions(own_redis.url), deadline_only=True)
    echo = Script(link, ECHO_OR_FAIL)
    watcher = aioredis.Redis.from_url(own_redis.url)
    try:
        await link.deadline(echo((), ("warm",)))  # loads the script
        words = [f"w{i}" for i in range(50)]
        replies = await asyncio.gather(*(link.deadline(echo((), (w,))) for w in words))
        assert replies == [w.encode() for w in words]
        clients = await watcher.client_list()
        assert len(clients) == 2  # the watcher and the link's one pipelined connection
    finally:
        await watcher.aclose()
        await link.aclose()


async def test_scripts_on_the_lean_path_never_read_another_call_s_reply(
    own_redis: RedisServer,
) -> None:
    """Scripts skip redis-py's client for a connection list of the link's own: each
    caller still gets its own reply, through error replies, a call cut off by the
    deadline (its reply arrives later, on a socket nobody reads) and a restart."""
    link = RedisLink(RedisOptions(own_redis.url, timeout=0.05, pool_size=4), deadline_only=True)
    echo = Script(link, ECHO_OR_FAIL)
    try:
        words = [f"w{i}" for i in range(40)]
        replies = await asyncio.gather(*(link.deadline(echo((), (w,))) for w in words))
        assert replies == [w.encode() for w in words]
        mixed = await asyncio.gather(
            *(link.deadline(echo((), (w,))) for w in ("a", "fail", "b")), return_exceptions=True
        )
        assert mixed[0] == b"a" and mixed[2] == b"b"  # an error reply is its caller's alone
        assert isinstance(mixed[1], ResponseError)
        with pytest.raises(ResponseError, match="no"):
            await link.deadline(echo((), ("fail",)))
        assert await link.deadline(echo((), ("after-error",))) == b"after-error"
        own_redis.freeze()
        lost = await asyncio.gather(
            *(link.deadline(echo((), (f"lost{i}",))) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, RedisUnavailable) for r in lost)
        own_redis.thaw()
        mine = await asyncio.gather(*(link.deadline(echo((), (f"m{i}",))) for i in range(5)))
        assert mine == [f"m{i}".encode() for i in range(5)]
        own_redis.stop()
        own_redis.start()  # idle connections now dead, script cache empty
        assert await link.deadline(echo((), ("fresh",))) == b"fresh"
    finally:
        await link.aclose()


async def test_a_busy_loop_is_not_a_silent_server() -> None:
    """The timer fires late because the loop was blocked: re-armed, not fired."""

    async def answer_soon() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    def block() -> None:
        time.sleep(0.2)  # the whole loop stalls, as under a burst of requests

    call = asyncio.create_task(within(answer_soon(), 0.05, 2.0))
    await asyncio.sleep(0)
    block()
    assert await call == "ok"
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(5), 0.05, 2.0)


async def test_a_loop_busy_in_many_short_steps_is_not_a_silent_server() -> None:
    """No single long stall, but the loop is busy most of the time (a burst handled in
    15 ms steps): the busy share excuses the silence; a quiet loop does not."""
    loop = asyncio.get_running_loop()
    watch = LoopWatch()

    def excused() -> Callable[[], bool]:
        lag = watch.lag()
        return lambda: watch.lag() - lag >= 0.025

    busy = True

    def hog() -> None:
        time.sleep(0.015)
        if busy:
            loop.call_soon(hog)

    async def answer_after_steps() -> str:
        await asyncio.sleep(0.2)
        return "ok"

    with watch:
        loop.call_soon(hog)
        try:
            assert await within(answer_after_steps(), 0.05, 2.0, excused) == "ok"
        finally:
            busy = False
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await within(asyncio.sleep(5), 0.05, 2.0, excused)
        assert time.monotonic() - t0 < 1.0  # fired, not excused until the 2 s limit
