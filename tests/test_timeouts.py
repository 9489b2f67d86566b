"""The one timeout model (router_core/timeouts.py) through the real router: every wait
bounded. A JSON body that trickles a byte at a time ends at ``total_s``; a partial first
event does not count as the first token of a committed stream; a client that never
reads its answer (JSON or stream) is dropped after ``client_write_timeout_s``.

The silent client is a real socket with a tiny receive buffer that sends its request
and never reads, so the router's writes stall for real once the kernel buffers fill.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from router_core.errors import UpstreamTimeout
from router_core.timeouts import AttemptClock, DeadlineSweep, Timeouts
from tests.fault_upstream import FaultUpstream, Step, fakes, model_extras, start_rig
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

HI = [{"role": "user", "content": "hi"}]

# A second echo provider whose card holds megabytes, so a big answer passes the guards.
BIG_ECHO = """
[providers.big]
plugin = "echo"
settings = { context_length = 100000000, max_output_tokens = 100000000 }
"""


@pytest.fixture
async def ups() -> AsyncIterator[dict[str, FaultUpstream]]:
    async for started in fakes():
        yield started


async def test_a_trickling_json_body_ends_at_total_s(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    # idle_s alone never fires (a byte every 0.2 s); the whole body would take minutes
    rig = await start_rig(
        tmp_path, ups, model_extra=model_extras(a={"total_s": 1.0, "idle_s": 5.0}), retries=0
    )
    try:
        rig.a.script(Step("trickle", delay=0.2))
        with structlog.testing.capture_logs() as logs:
            reply = await asyncio.wait_for(
                post_chat(rig.router, {"model": "a/m1", "messages": HI}), 30
            )
        assert reply.status == 504
        assert reply.json()["error"] == "timeout"
        (failed,) = [e for e in logs if e["event"] == "upstream_failed"]
        assert failed["detail"] == "deployment total timeout"
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_a_partial_first_event_is_not_the_first_token(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    # The stream commits at the keep-alive delay (0.2 s) with no chunk yet; half an
    # event arrives at 0.4 s; first_token_s (1 s) must still end it, long before idle_s.
    rig = await start_rig(
        tmp_path,
        ups,
        model_extra=model_extras(a={"first_token_s": 1.0, "idle_s": 60.0}),
        keepalive=0.2,
        retries=0,
    )
    try:
        rig.a.script(Step("partial_first", delay=0.4))
        with structlog.testing.capture_logs() as logs:
            reply = await asyncio.wait_for(
                post_chat(rig.router, {"model": "a/m1", "messages": HI, "stream": True}), 30
            )
        assert reply.status == 200  # committed: the error is in-band
        frames = [f for f in reply.body.split(b"\n\n") if f and not f.startswith(b":")]
        assert json.loads(frames[-1].removeprefix(b"data: "))["error"] == "timeout"
        line = next(e for e in logs if e["event"] == "request")
        assert line["stream_error"] == "timeout"
        assert line["error_detail"] == "no first token in time"
        await rig.assert_clean()
    finally:
        await rig.close()


async def _silent_client(router: RunningRouter, body: dict[str, Any]) -> socket.socket:
    """A connected socket that sent one chat request and will never read."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(router.url.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {router.key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    await asyncio.get_running_loop().sock_sendall(sock, head + payload)
    return sock


async def _read_until_closed(sock: socket.socket, limit: int) -> int:
    """Bytes read before the connection ended (reset or EOF), at most ``limit``."""
    loop = asyncio.get_running_loop()
    got = 0
    try:
        while got < limit:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65536), 10)
            if not data:
                break
            got += len(data)
    except ConnectionResetError:
        pass
    return got


@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_that_never_reads_is_dropped(tmp_path: Path, stream: bool) -> None:
    settings = router_settings(tmp_path, extra_toml=BIG_ECHO)
    settings.server.client_write_timeout_s = 1.0
    router = await start_router(settings)
    # ~4 MB of answer: 4,000 "words" of 1,000 letters (streamed as 4,000 chunks)
    text = " ".join(["x" * 999] * 4000)
    body = {"model": "big/echo-1", "messages": [{"role": "user", "content": text}]}
    body["stream"] = stream
    sock: socket.socket | None = None
    try:
        with structlog.testing.capture_logs() as logs:
            sock = await _silent_client(router, body)
            for _ in range(300):  # bounded: 30 s
                if any(e["event"] == "client_write_timeout" for e in logs):
                    break
                await asyncio.sleep(0.1)
        assert any(e["event"] == "client_write_timeout" for e in logs)
        # the connection is gone: the client gets less than the answer, then the end
        assert await _read_until_closed(sock, len(text)) < len(text)
        m = router.state.metrics.registry
        for _ in range(100):
            if m.get_sample_value("viberouter_in_flight_requests") == 0:
                break
            await asyncio.sleep(0.05)
        assert m.get_sample_value("viberouter_in_flight_requests") == 0
        assert m.get_sample_value("viberouter_open_streams") in (0, None)
    finally:
        if sock is not None:
            sock.close()
        await router.stop()


@pytest.fixture
async def sweep() -> AsyncIterator[DeadlineSweep]:
    """A fresh sweep (started by the first deadline it is given), stopped after."""
    deadlines = DeadlineSweep()
    yield deadlines
    await deadlines.close()


def _clock(first_token_s: float, total_s: float) -> AttemptClock:
    tm = Timeouts(first_token_s=first_token_s, idle_s=60.0, total_s=total_s)
    return AttemptClock.begin(tm, time.monotonic() + 60.0)


async def test_json_timer_no_headers_is_a_first_token_timeout(sweep: DeadlineSweep) -> None:
    with pytest.raises(UpstreamTimeout) as caught, _clock(0.05, 5.0).json_phase(sweep):
        await asyncio.sleep(5)
    assert caught.value.detail == "no first token in time"


async def test_json_timer_after_the_headers_waits_for_the_total_deadline(
    sweep: DeadlineSweep,
) -> None:
    clock = _clock(0.05, 0.3)
    with pytest.raises(UpstreamTimeout) as caught, clock.json_phase(sweep) as timer:
        timer.headers_arrived()
        await asyncio.sleep(5)
    assert caught.value.detail == "deployment total timeout"
    assert clock.over()  # re-armed past the first-token deadline, not cut there


async def test_json_timer_lets_other_cancellations_through(sweep: DeadlineSweep) -> None:
    async def exchange() -> None:
        with _clock(5.0, 5.0).json_phase(sweep):
            await asyncio.sleep(5)

    task = asyncio.ensure_future(exchange())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_json_timer_bounds_the_silence_between_reads(sweep: DeadlineSweep) -> None:
    tm = Timeouts(first_token_s=0.05, idle_s=0.15, total_s=30.0)
    clock = AttemptClock.begin(tm, time.monotonic() + 60.0)
    with pytest.raises(UpstreamTimeout) as caught, clock.json_phase(sweep) as timer:
        timer.headers_arrived()
        for _ in range(4):  # reads closer together than idle_s keep it going
            await asyncio.sleep(0.05)
            timer.read()
        await asyncio.sleep(5)
    assert caught.value.detail == "idle timeout between upstream chunks"
    assert time.monotonic() - timer.last_read >= tm.idle_s


async def test_json_deadline_leaves_the_sweep_when_the_exchange_ends(
    sweep: DeadlineSweep,
) -> None:
    with _clock(5.0, 5.0).json_phase(sweep) as timer:
        assert len(sweep) == 1
        timer.headers_arrived()
    assert len(sweep) == 0
    with pytest.raises(UpstreamTimeout), _clock(0.02, 5.0).json_phase(sweep):
        await asyncio.sleep(5)
    assert len(sweep) == 0


async def test_a_shorter_deadline_wakes_a_sweep_asleep_on_a_long_tick(
    sweep: DeadlineSweep,
) -> None:
    long_ = _clock(60.0, 300.0).json_phase(sweep)
    with long_:
        await asyncio.sleep(0.05)  # the sweep now sleeps its one-second tick
        assert sweep.tick == 1.0
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout), _clock(0.1, 5.0).json_phase(sweep):
            await asyncio.sleep(5)
        # fired an eighth of its bound late at most, not at the old tick's end
        assert time.monotonic() - started < 0.5


async def test_the_sweep_ticks_slower_again_once_short_deadlines_end(
    sweep: DeadlineSweep,
) -> None:
    sweep.RELAX_S = 0.1
    with _clock(0.08, 5.0).json_phase(sweep):  # an exchange that ends in time
        assert sweep.tick == pytest.approx(0.01)
    await asyncio.sleep(0.05)  # checks with nothing short waiting, within RELAX_S
    assert sweep.tick == pytest.approx(0.01)
    await asyncio.sleep(0.15)
    assert sweep.tick == 1.0


async def test_a_sweep_whose_task_ended_starts_again(sweep: DeadlineSweep) -> None:
    with _clock(0.05, 5.0).json_phase(sweep):
        pass  # started by its first deadline, the tick as short as the next one's
    assert sweep._task is not None
    sweep._task.cancel()  # as if it had died
    await asyncio.sleep(0.01)
    with pytest.raises(UpstreamTimeout), _clock(0.05, 5.0).json_phase(sweep):
        await asyncio.sleep(5)
