"""Asyncio load client: streams (TTFT, inter-chunk gap, streams/s), sequential
requests (latency, the router's overhead header), held streams (memory per open
stream) and a fixed-rate soak.

It speaks HTTP/1.1 over raw asyncio protocols with requests encoded once, so the
client costs little next to the server it measures. Each mode prints one JSON object.

Run: ``python -m bench.client streams --url http://127.0.0.1:8080 --key vr-... --model m-fast``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from bench.loop import run_fast
from bench.procs import rss_kb

OVERHEAD_HEADER = b"x-viberouter-overhead-ms"


@dataclass
class Response:
    """One response as the client saw it."""

    status: int = 0
    overhead_ms: float | None = None
    event_times: list[float] = field(default_factory=list)
    done: bool = False  # the stream ended with data: [DONE]
    stream_error: bool = False  # an in-band error event
    body_bytes: int = 0


def encode_request(url: str, key: str | None, body: bytes) -> bytes:
    """The whole HTTP request, encoded once and sent as is."""
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request_body(model: str, stream: bool) -> bytes:
    """A small chat request in the form every scenario accepts."""
    return json.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": "Hello, benchmark!"}],
            "stream": stream,
            "max_tokens": 64,
        },
        separators=(",", ":"),
    ).encode()


class Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._resp = Response()
        self._future: asyncio.Future[Response] | None = None
        self._state = "head"
        self._need = 0  # bytes left in the current chunk / body
        self._chunked = False
        self._sse = bytearray()
        self.first_event: asyncio.Future[None] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._future is not None and not self._future.done():
            self._future.set_exception(ConnectionError("connection closed mid-response"))
        if self.first_event is not None and not self.first_event.done():
            self.first_event.set_exception(ConnectionError("closed before the first event"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, data: bytes) -> asyncio.Future[Response]:
        """Send one encoded request; the future resolves with the whole response."""
        if self.transport is None:
            raise ConnectionError("connection is closed")
        loop = asyncio.get_running_loop()
        self._resp = Response()
        self._future = loop.create_future()
        self._state = "head"
        self._sse.clear()
        self.transport.write(data)
        return self._future

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self._buf += data
        while self._buf and self._future is not None and not self._future.done():
            if not self._step(now):
                return

    def _step(self, now: float) -> bool:
        buf = self._buf
        if self._state == "head":
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return False
            self._head(bytes(buf[:end]).lower())
            del buf[: end + 4]
            if self._state == "body" and self._need == 0:
                self._finish()
            return True
        if self._state == "size":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            size = int(bytes(buf[:end]).split(b";", 1)[0], 16)
            del buf[: end + 2]
            if size == 0:
                self._state = "trailer"
            else:
                self._state, self._need = "chunk", size
            return True
        if self._state == "crlf":
            if len(buf) < 2:
                return False
            del buf[:2]
            self._state = "size"
            return True
        if self._state == "trailer":
            end = buf.find(b"\r\n")
            if end < 0:
                return False
            del buf[: end + 2]
            self._finish()
            return True
        take = min(self._need, len(buf))
        piece = bytes(buf[:take])
        del buf[:take]
        self._need -= take
        self._resp.body_bytes += take
        if self._chunked:
            self._events(piece, now)
            if self._need == 0:
                self._state = "crlf"  # the CRLF after a chunk's data, maybe in the next read
        elif self._need == 0:
            self._finish()
        return True

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        self._resp.status = int(lines[0].split(b" ", 2)[1])
        self._chunked = False
        self._need = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip()
            if name == b"transfer-encoding" and b"chunked" in value:
                self._chunked = True
            elif name == b"content-length":
                self._need = int(value)
            elif name == OVERHEAD_HEADER:
                self._resp.overhead_ms = float(value)
        self._state = "size" if self._chunked else "body"

    def _events(self, piece: bytes, now: float) -> None:
        sse = self._sse
        sse += piece
        start = 0
        while True:
            end = sse.find(b"\n\n", start)
            if end < 0:
                break
            event = bytes(sse[start:end])
            start = end + 2
            if not event.startswith(b"data: "):
                continue  # keep-alive comments
            if event == b"data: [DONE]":
                self._resp.done = True
            elif event.startswith(b'data: {"error"'):
                self._resp.stream_error = True
            self._resp.event_times.append(now)
            if self.first_event is not None and not self.first_event.done():
                self.first_event.set_result(None)
        del sse[:start]

    def _finish(self) -> None:
        self._state = "done"
        if self._future is not None and not self._future.done():
            self._future.set_result(self._resp)

    def eof_received(self) -> bool | None:
        return None


async def connect(url: str) -> Conn:
    """Open one connection to ``url``'s host."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, parts.hostname, parts.port or 80)
    return conn


def pct(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _ok(r: Response, stream: bool) -> bool:
    if r.status != 200:
        return False
    return (r.done and not r.stream_error) if stream else True


async def streams(
    url: str, key: str | None, model: str, concurrency: int, duration: float
) -> dict[str, Any]:
    """Back-to-back streams on ``concurrency`` connections for ``duration`` seconds."""
    req = encode_request(url, key, request_body(model, True))
    conns = [await connect(url) for _ in range(concurrency)]
    completed = errors = 0
    ttfts: list[float] = []
    deadline = time.perf_counter() + duration

    async def worker(conn: Conn) -> None:
        nonlocal completed, errors
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                r = await conn.send(req)
            except ConnectionError:
                errors += 1
                conn = await connect(url)
                continue
            if _ok(r, True):
                completed += 1
                ttfts.append(r.event_times[0] - t0)
            else:
                errors += 1

    t_start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t_start
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    return {
        "completed": completed,
        "errors": errors,
        "seconds": elapsed,
        "streams_per_s": completed / elapsed if elapsed else 0.0,
        "ttft_p50_ms": _ms(pct(ttfts, 0.5)),
        "ttft_p99_ms": _ms(pct(ttfts, 0.99)),
    }


async def paced(url: str, key: str | None, model: str, count: int) -> dict[str, Any]:
    """``count`` streams one after another: time to first event and the gaps between events."""
    req = encode_request(url, key, request_body(model, True))
    conn = await connect(url)
    ttfts: list[float] = []
    gaps: list[float] = []
    errors = 0
    for _ in range(count):
        t0 = time.perf_counter()
        r = await conn.send(req)
        if not _ok(r, True):
            errors += 1
            continue
        times = r.event_times
        ttfts.append(times[0] - t0)
        # events written together upstream (the tail) arrive in one read: skip zero gaps
        gaps.extend(b - a for a, b in itertools.pairwise(times) if b > a)
    if conn.transport is not None:
        conn.transport.close()
    return {
        "streams": count,
        "errors": errors,
        "ttft_p50_ms": _ms(pct(ttfts, 0.5)),
        "ttft_p99_ms": _ms(pct(ttfts, 0.99)),
        "gap_p50_ms": _ms(pct(gaps, 0.5)),
        "gap_p99_ms": _ms(pct(gaps, 0.99)),
        "gap_mean_ms": _ms(statistics.fmean(gaps) if gaps else None),
    }


async def sequential(url: str, key: str | None, model: str, count: int) -> dict[str, Any]:
    """``count`` non-streaming requests one after another: latency and overhead header."""
    req = encode_request(url, key, request_body(model, False))
    conn = await connect(url)
    lat: list[float] = []
    overhead: list[float] = []
    errors = 0
    for _ in range(count):
        t0 = time.perf_counter()
        r = await conn.send(req)
        lat.append(time.perf_counter() - t0)
        if r.status != 200:
            errors += 1
        if r.overhead_ms is not None:
            overhead.append(r.overhead_ms / 1000.0)
    if conn.transport is not None:
        conn.transport.close()
    return {
        "requests": count,
        "errors": errors,
        "p50_ms": _ms(pct(lat, 0.5)),
        "p99_ms": _ms(pct(lat, 0.99)),
        "overhead_p50_ms": _ms(pct(overhead, 0.5)),
        "overhead_p99_ms": _ms(pct(overhead, 0.99)),
    }


async def hold(
    url: str, key: str | None, model: str, count: int, pids: Sequence[int], batch: int = 500
) -> dict[str, Any]:
    """Open ``count`` streams that stay open; memory of ``pids`` before and while held."""
    req = encode_request(url, key, request_body(model, True))
    before = sum(rss_kb(p) for p in pids)
    conns: list[Conn] = []
    failed = 0
    t0 = time.perf_counter()
    for i in range(0, count, batch):
        opened = await asyncio.gather(
            *(connect(url) for _ in range(min(batch, count - i))), return_exceptions=True
        )
        batch_conns = [c for c in opened if isinstance(c, Conn)]
        failed += len(opened) - len(batch_conns)
        for c in batch_conns:
            c.first_event = asyncio.get_running_loop().create_future()
            c.send(req).add_done_callback(_retrieved)
        results = await asyncio.gather(
            *(asyncio.wait_for(c.first_event, 30) for c in batch_conns if c.first_event),
            return_exceptions=True,
        )
        failed += sum(1 for r in results if isinstance(r, BaseException))
        conns.extend(batch_conns)
    open_s = time.perf_counter() - t0
    await asyncio.sleep(1.0)
    during = sum(rss_kb(p) for p in pids)
    held = len(conns) - failed
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    await asyncio.sleep(0.5)
    return {
        "requested": count,
        "held": held,
        "errors": failed,
        "open_seconds": open_s,
        "rss_before_kb": before,
        "rss_held_kb": during,
        "kb_per_stream": (during - before) / held if held else None,
    }


async def soak(
    url: str,
    key: str | None,
    model: str,
    rate: float,
    duration: float,
    pids: Sequence[int],
    sample_every: float,
    concurrency: int = 64,
) -> dict[str, Any]:
    """Requests at a fixed ``rate`` (alternately plain and streamed) for ``duration``
    seconds, sampling the memory of ``pids`` every ``sample_every`` seconds."""
    reqs = (
        encode_request(url, key, request_body(model, False)),
        encode_request(url, key, request_body(model, True)),
    )
    queue: asyncio.Queue[int] = asyncio.Queue()
    ok = errors = 0
    samples: list[tuple[float, int]] = []

    async def worker() -> None:
        nonlocal ok, errors
        conn = await connect(url)
        while True:
            i = await queue.get()
            try:
                r = await conn.send(reqs[i % 2])
            except ConnectionError:
                errors += 1
                conn = await connect(url)
                continue
            if _ok(r, bool(i % 2)):
                ok += 1
            else:
                errors += 1

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    t0 = time.perf_counter()
    next_sample = t0
    sent = 0
    while (now := time.perf_counter()) < t0 + duration:
        due = int((now - t0) * rate)
        while sent < due:
            if queue.qsize() < concurrency * 4:  # shed load rather than queue forever
                queue.put_nowait(sent)
            sent += 1
        if now >= next_sample:
            samples.append((now - t0, sum(rss_kb(p) for p in pids)))
            next_sample += sample_every
        await asyncio.sleep(0.005)
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    return {"ok": ok, "errors": errors, "seconds": duration, "samples": samples}


def _retrieved(fut: asyncio.Future[Response]) -> None:
    # held streams end when we close them: their "closed mid-response" is expected
    if not fut.cancelled():
        fut.exception()


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 4)


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> None:
    """Command line entry: ``python -m bench.client <mode> ...``; prints one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["streams", "paced", "sequential", "hold", "soak"])
    parser.add_argument("--url", required=True, help="full URL of /v1/chat/completions")
    parser.add_argument("--key")
    parser.add_argument("--model", default="m-fast")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--sample-every", type=float, default=10.0)
    parser.add_argument("--pid", type=int, action="append", default=[])
    args = parser.parse_args(argv)
    _raise_nofile()
    coro: Any
    if args.mode == "streams":
        coro = streams(args.url, args.key, args.model, args.concurrency, args.duration)
    elif args.mode == "paced":
        coro = paced(args.url, args.key, args.model, args.count)
    elif args.mode == "sequential":
        coro = sequential(args.url, args.key, args.model, args.count)
    elif args.mode == "hold":
        coro = hold(args.url, args.key, args.model, args.count, args.pid)
    else:
        coro = soak(
            args.url,
            args.key,
            args.model,
            args.rate,
            args.duration,
            args.pid,
            args.sample_every,
        )
    result = run_fast(coro)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
