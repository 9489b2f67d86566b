"""A real `viberouter serve` process sent real signals while requests are in flight:
the drain lets them finish, cuts what outlives `shutdown_timeout_s` with an error
the client can read, bills each request once, and a second signal ends it at once.

The echo provider's `delay_ms` makes the slow upstream: each streamed token waits
that long, and a non-streamed answer waits for all of them.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.router_process import RouterProcess, start_router_process

CONFIG = """
[server]
shutdown_timeout_s = {timeout}

[state]
backend = "{backend}"
sqlite_path = "{db}"
redis_url = "{redis_url}"

[logging]
format = "json"

[providers.echo]
plugin = "echo"
settings = {{ delay_ms = {delay_ms} }}

[routes.echo]
deployments = ["echo/echo-1"]
"""

#: Every wait in this file is bounded by this (a hung router fails the test, not CI).
BOUND_S = 30.0


def start(
    tmp: Path,
    *,
    timeout: float,
    delay_ms: float = 100,
    backend: str = "embedded",
    redis_url: str = "redis://127.0.0.1:1/0",
    args: tuple[str, ...] = (),
) -> RouterProcess:
    cfg = tmp / "viberouter.toml"
    cfg.write_text(
        CONFIG.format(
            timeout=timeout,
            backend=backend,
            db=(tmp / "router.db").as_posix(),
            redis_url=redis_url,
            delay_ms=delay_ms,
        )
    )
    return start_router_process(cfg, tmp, args=args)


def words(n: int) -> str:
    """A prompt the echo provider answers with ``n`` tokens (one per word)."""
    return " ".join(f"w{i}" for i in range(n))


@dataclass
class StreamResult:
    status: int
    events: list[Any]  # decoded data payloads; "[DONE]" kept as the string
    error: BaseException | None  # the body did not end cleanly


async def stream(
    proc: RouterProcess, key: str, n_words: int, first: asyncio.Event | None = None
) -> StreamResult:
    """One streamed chat completion, read to the end of its body."""
    body = {
        "model": "echo",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": words(n_words)}],
    }
    events: list[Any] = []
    buf = b""
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proc.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as r,
    ):
        try:
            async for chunk in r.content.iter_any():
                buf += chunk
                while b"\n\n" in buf:
                    frame, buf = buf.split(b"\n\n", 1)
                    if frame.startswith(b"data: "):
                        data = frame[6:].decode()
                        events.append(data if data == "[DONE]" else json.loads(data))
                        if first is not None:
                            first.set()
        except aiohttp.ClientError as exc:
            return StreamResult(r.status, events, exc)
        return StreamResult(r.status, events, None)


async def complete(proc: RouterProcess, key: str, n_words: int) -> tuple[int, dict[str, str], Any]:
    """One non-streamed chat completion: status, headers, JSON body."""
    body = {"model": "echo", "messages": [{"role": "user", "content": words(n_words)}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proc.base_url + "/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        ) as r,
    ):
        return r.status, dict(r.headers), await r.json(content_type=None)


def usage_of(result: StreamResult) -> dict[str, int]:
    for ev in result.events:
        if isinstance(ev, dict) and ev.get("usage"):
            return dict(ev["usage"])
    raise AssertionError(f"no usage chunk in {result.events[-3:]}")


def ledger_totals(db: Path) -> tuple[int, int, int]:
    """(requests, prompt tokens, completion tokens) in the SQLite usage ledger."""
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0),"
            " COALESCE(SUM(completion_tokens), 0) FROM usage_daily"
        ).fetchone()
    return int(row[0]), int(row[1]), int(row[2])


def log_events(proc: RouterProcess, event: str) -> list[dict[str, Any]]:
    found = []
    for line in proc.output().splitlines():
        if line.startswith("{") and f'"event":"{event}"' in line:
            found.append(json.loads(line))
    return found


async def wait_exit(proc: RouterProcess, within_s: float = BOUND_S) -> int:
    deadline = time.monotonic() + within_s
    while proc.proc.poll() is None:
        if time.monotonic() > deadline:
            raise AssertionError("the router did not exit:\n" + proc.output())
        await asyncio.sleep(0.05)
    return proc.proc.returncode


async def wait_log(proc: RouterProcess, event: str, count: int = 1) -> dict[str, Any]:
    """The first ``event`` logged, once ``count`` of them have been."""
    deadline = time.monotonic() + BOUND_S
    while len(found := log_events(proc, event)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"not {count} {event} logged:\n" + proc.output())
        await asyncio.sleep(0.02)
    return found[0]


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _chat_statuses(proc: RouterProcess) -> list[int]:
    """The statuses of the chat requests in the access log, sorted."""
    lines = log_events(proc, "request")
    return sorted(e["status"] for e in lines if e["path"] == "/v1/chat/completions")


async def test_sigterm_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    proc = start(tmp_path, timeout=20, delay_ms=100)
    try:
        key = proc.demo_key()
        async with aiohttp.ClientSession() as probe:
            # a kept-alive connection, open before the signal
            async with probe.get(proc.url + "/readyz") as r:
                assert r.status == 200 and (await r.json())["status"] == "ready"
            first = asyncio.Event()
            streamed = asyncio.create_task(stream(proc, key, 25, first))
            answered = asyncio.create_task(complete(proc, key, 25))
            await asyncio.wait_for(first.wait(), BOUND_S)
            proc.proc.send_signal(signal.SIGTERM)
            started = await wait_log(proc, "drain_started")
            assert started["in_flight"] >= 2

            assert refused(proc.port)  # the listener is closed at once
            async with probe.get(proc.url + "/readyz") as r:  # on the kept-alive connection
                assert r.status == 503
                assert (await r.json())["status"] == "draining"
                assert r.headers.get("Connection", "").lower() == "close"

            s = await asyncio.wait_for(streamed, BOUND_S)
            status, _, body = await asyncio.wait_for(answered, BOUND_S)
        assert s.status == 200 and s.error is None
        assert s.events[-1] == "[DONE]"
        assert not any(isinstance(e, dict) and "error" in e for e in s.events)
        assert status == 200
        assert body["choices"][0]["message"]["content"] == words(25)
        assert await wait_exit(proc) == 0

        finished = log_events(proc, "drain_finished")
        assert len(finished) == 1
        assert finished[0]["cut"] == 0 and finished[0]["finished"] >= 3
        # billed exactly once each, with the usage the clients were told
        su, ju = usage_of(s), body["usage"]
        assert ledger_totals(tmp_path / "router.db") == (
            2,
            su["prompt_tokens"] + ju["prompt_tokens"],
            su["completion_tokens"] + ju["completion_tokens"],
        )
        for line in log_events(proc, "request"):
            assert line["status"] != 499, line
        # each answer logged once, though its line is written after the answer (and
        # so after the drain counted the request out): the clean-up flushes it
        assert _chat_statuses(proc) == [200, 200]
    finally:
        proc.stop()


async def test_requests_past_the_deadline_are_cut_with_an_error(tmp_path: Path) -> None:
    proc = start(tmp_path, timeout=1.5, delay_ms=100)
    try:
        key = proc.demo_key()
        first = asyncio.Event()
        streamed = asyncio.create_task(stream(proc, key, 400, first))  # 40 s of tokens
        answered = asyncio.create_task(complete(proc, key, 400))
        await asyncio.wait_for(first.wait(), BOUND_S)
        await asyncio.sleep(0.3)  # a few tokens out, the JSON request in the upstream
        proc.proc.send_signal(signal.SIGTERM)
        s = await asyncio.wait_for(streamed, BOUND_S)
        status, headers, body = await asyncio.wait_for(answered, BOUND_S)

        # the stream: content, then one error event, then a properly ended body
        assert s.status == 200 and s.error is None
        assert any(isinstance(e, dict) and e.get("choices") for e in s.events)
        assert s.events[-1] == {
            "error": "server_error",
            "message": "The router is shutting down; retry the request",
        }
        assert "[DONE]" not in s.events
        # the JSON request: a proper answer, with a hint to retry elsewhere
        assert status == 503 and body["error"] == "server_error"
        assert headers["Retry-After"] == "1"
        assert await wait_exit(proc) == 0

        finished = log_events(proc, "drain_finished")
        assert len(finished) == 1 and finished[0]["cut"] == 2
        # the cut stream is billed once for what it streamed; the cut JSON answer
        # never left, so it is not billed
        requests, prompt, completion = ledger_totals(tmp_path / "router.db")
        assert requests == 1 and prompt > 0
        streamed_text = "".join(
            c["delta"].get("content") or ""
            for e in s.events
            if isinstance(e, dict)
            for c in e.get("choices", [])
        )
        assert 0 < completion <= len(streamed_text)
        # both logged once, the cut JSON request with the 503 its client got
        assert _chat_statuses(proc) == [200, 503]
    finally:
        proc.stop()


async def test_a_second_signal_ends_the_drain_at_once(tmp_path: Path) -> None:
    proc = start(tmp_path, timeout=120, delay_ms=100)
    try:
        key = proc.demo_key()
        first = asyncio.Event()
        streamed = asyncio.create_task(stream(proc, key, 2000, first))  # 200 s of tokens
        await asyncio.wait_for(first.wait(), BOUND_S)
        proc.proc.send_signal(signal.SIGTERM)
        await wait_log(proc, "drain_started")
        await asyncio.sleep(1.2)  # signals closer than a second count as one
        assert proc.proc.poll() is None  # still draining: the deadline is 120 s away
        proc.proc.send_signal(signal.SIGINT)
        s = await asyncio.wait_for(streamed, BOUND_S)
        assert await wait_exit(proc) == 0  # long before the 120 s deadline
        assert log_events(proc, "stop_forced")
        assert s.error is None and s.events[-1]["error"] == "server_error"
        assert ledger_totals(tmp_path / "router.db")[0] == 1
    finally:
        proc.stop()


async def test_shutdown_during_a_blocked_ledger_write_bills_once(tmp_path: Path) -> None:
    """The double-billing reproduction: SIGTERM while the ledger's write waits for the
    SQLite write lock (held here by another connection); once released, each request
    is counted once (it used to be written again at close: 50 requests became 100)."""
    proc = start(tmp_path, timeout=10, delay_ms=0)
    db = tmp_path / "router.db"
    try:
        key = proc.demo_key()
        await asyncio.sleep(1.5)  # the demo key's first-use touch is written
        holder = sqlite3.connect(db, isolation_level=None, timeout=BOUND_S)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, until COMMIT
        told = [0, 0]  # prompt and completion tokens the clients were told
        try:
            for _ in range(50):
                status, _, body = await complete(proc, key, 3)
                assert status == 200
                told[0] += body["usage"]["prompt_tokens"]
                told[1] += body["usage"]["completion_tokens"]
            await asyncio.sleep(1.5)  # the ledger's timed flush is now waiting on the lock
            proc.proc.send_signal(signal.SIGTERM)
            await wait_log(proc, "drain_finished")
            await asyncio.sleep(0.5)  # the close-time flush is under way
        finally:
            holder.execute("COMMIT")
            holder.close()
        assert await wait_exit(proc) == 0
        assert ledger_totals(db) == (50, told[0], told[1])
    finally:
        proc.stop()


@pytest.mark.usefixtures("redis_url")
async def test_workers_drain_on_the_parents_signal(tmp_path: Path, redis_url: str) -> None:
    proc = start(
        tmp_path,
        timeout=20,
        delay_ms=100,
        backend="redis",
        redis_url=redis_url,
        args=("--workers", "2"),
    )
    try:
        key = proc.demo_key()
        await wait_log(proc, "listening", count=2)  # both workers are up
        first = asyncio.Event()
        streamed = asyncio.create_task(stream(proc, key, 25, first))
        await asyncio.wait_for(first.wait(), BOUND_S)
        proc.proc.send_signal(signal.SIGTERM)  # to the parent only
        s = await asyncio.wait_for(streamed, BOUND_S)
        assert s.status == 200 and s.error is None and s.events[-1] == "[DONE]"
        assert await wait_exit(proc) == 0
        finished = log_events(proc, "drain_finished")
        assert len(finished) == 2  # each worker drained once
        assert sum(f["finished"] for f in finished) >= 1
        assert all(f["cut"] == 0 for f in finished)
    finally:
        proc.stop()
