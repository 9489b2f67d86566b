"""``python -m bench.timeline [--stream]``: where one request's time to first byte goes.

Starts the mock upstream and, through ``bench.timeline_probe`` (timestamping
wrappers installed in the server process only), the router and the bare
pass-through, pinned as ``make bench`` pins them. Sends ``--requests`` requests one
at a time on one keep-alive connection to each, in alternating rounds, plus the
same to an unprobed router (what the probes cost) and straight to the mock.

The client and the servers read the same clock (``CLOCK_MONOTONIC``), so every step
is timed from the client's send. Printed per server: each step of the request path
in order, the median time at which it is reached, the median gap from the step
before, how often it happens per request, and (``--hops``: asyncio's loop instead of
uvloop in the probed servers) the event-loop iterations between steps.
``--stream``: a paced stream's first event (``m-paced``), else a plain answer's first
byte (``m-fast``).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.client import Conn, encode_request, request_body
from bench.procs import Cores, free_port, raise_nofile, spawn, stop, wait_http, wait_port
from bench.servers import Server, create_key, router_config, start_mock, start_router

_REPO = Path(__file__).resolve().parent.parent
START = "server: request bytes received"
END = "server: body bytes written"
CLIENT_END = "client: first byte received"


class TimedConn(Conn):
    """:class:`Conn` that also notes when a response's first byte arrived."""

    first_byte_ns = 0

    def data_received(self, data: bytes) -> None:
        if not self.first_byte_ns:
            self.first_byte_ns = time.perf_counter_ns()
        super().data_received(data)


async def _requests(url: str, key: str | None, stream: bool, count: int) -> list[tuple[int, int]]:
    """(send, first byte or first event) in perf_counter_ns, per request."""
    req = encode_request(url, key, request_body("m-paced" if stream else "m-fast", stream))
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(TimedConn, host, int(port))
    out: list[tuple[int, int]] = []
    try:
        for _ in range(count):
            conn.first_byte_ns = 0
            t0 = time.perf_counter_ns()
            r = await conn.send(req)
            if r.status != 200 or (stream and not r.event_times):
                raise RuntimeError(f"{url}: status {r.status}")
            first = round(r.event_times[0] * 1e9) if stream else conn.first_byte_ns
            out.append((t0, first))
    finally:
        if conn.transport is not None:
            conn.transport.close()
    return out


def _probed(
    cores: Cores, work: Path, name: str, target_args: list[str], port: int, opts: list[str]
) -> tuple[Server, Path]:
    out = work / f"marks-{name}.json"
    cmd = [*cores.prefix(cores.server), sys.executable, "-m", "bench.timeline_probe"]
    cmd += ["--out", str(out), *opts, *target_args]
    proc = spawn(cmd, work / f"{name}.log", cwd=_REPO)
    return Server(name, proc, port), out


def _start(
    cores: Cores, work: Path, mock: Server, hops: bool, base: Path | None
) -> tuple[dict[str, Server], dict[str, Path]]:
    servers: dict[str, Server] = {}
    marks: dict[str, Path] = {}
    port = free_port()
    upstream = f"http://127.0.0.1:{mock.port}"
    opts = ["--hops"] if hops else []
    pt, marks["pass-through"] = _probed(
        cores, work, "pt", ["passthrough", "--port", str(port), "--upstream", upstream], port, opts
    )
    servers["pass-through"] = pt
    wait_port(port, 15)
    cfg = router_config(work, mock.port, backend="embedded", redis_port=None, name="router")
    key = create_key(cfg)
    port = free_port()
    args = ["router", "--config", str(cfg), "serve", "--port", str(port)]
    base_opt = ["--base", str(base)] if base is not None else []
    router, marks["router"] = _probed(cores, work, "router", args, port, opts + base_opt)
    router.key = key
    servers["router"] = router
    wait_http(port, "/readyz", 30)
    cfg2 = router_config(work, mock.port, backend="embedded", redis_port=None, name="plain")
    old = os.environ.get("PYTHONPATH")
    if base is not None:
        os.environ["PYTHONPATH"] = f"{base}:{base}/plugins/viberouter-openai"
    try:
        unprobed = start_router(cores, work, cfg2, name="plain", cpus=cores.server)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    unprobed.key = create_key(cfg2)
    servers["router, unprobed"] = unprobed
    return servers, marks


def timeline(marks: list[list[Any]], sends: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Per step (first time reached in each request): median ms after the client's
    send, count per request, and loop iterations since the request's first bytes."""
    times = [m[1] for m in marks]
    at: dict[str, list[float]] = {}
    count: dict[str, list[int]] = {}
    hops: dict[str, list[int]] = {}
    for t0, first in sends:
        lo, hi = bisect.bisect_left(times, t0), bisect.bisect_right(times, first)
        window = marks[lo:hi]
        starts = [i for i, m in enumerate(window) if m[0] == START]
        if not starts:
            continue
        window = window[starts[0] :]
        ends = [i for i, m in enumerate(window) if m[0] == END]
        window = window[: ends[0] + 1] if ends else window
        base_hops = window[0][2]
        seen: dict[str, int] = {}
        for name, t, h in window:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] == 1:
                at.setdefault(name, []).append((t - t0) / 1e6)
                hops.setdefault(name, []).append(h - base_hops)
        for name, n in seen.items():
            count.setdefault(name, []).append(n)
        at.setdefault(CLIENT_END, []).append((first - t0) / 1e6)
    rows = [
        {
            "step": name,
            "ms": statistics.median(v),
            "per_request": statistics.median(count.get(name, [1])),
            "hops": statistics.median(hops[name]) if name in hops else None,
            "seen": len(v),
        }
        for name, v in at.items()
    ]
    rows.sort(key=lambda r: r["ms"])
    return rows


def _print(name: str, rows: list[dict[str, Any]], with_hops: bool) -> None:
    print(f"\n{name}: ms after the client's send (median), gap from the step before")
    prev = 0.0
    prev_hops = 0.0
    for r in rows:
        hop = ""
        if with_hops and r["hops"] is not None:
            hop = f"  +{r['hops'] - prev_hops:g} it"
            prev_hops = r["hops"]
        n = f"  x{r['per_request']:g}" if r["per_request"] != 1 else ""
        print(f"  {r['ms']:7.3f}  +{r['ms'] - prev:6.3f}  {r['step']}{n}{hop}")
        prev = r["ms"]


def wrapper_cost_ns() -> float:
    """What one mark costs in this interpreter (a wrapped no-op against the bare one)."""
    from bench import timeline_probe as tp

    class Box:
        def f(self) -> None:
            return None

    bare = Box()
    n = 200_000
    t0 = time.perf_counter_ns()
    for _ in range(n):
        bare.f()
    plain = time.perf_counter_ns() - t0
    tp.wrap_sync(Box, "f", "a", "b")
    t0 = time.perf_counter_ns()
    for _ in range(n):
        bare.f()
    wrapped = time.perf_counter_ns() - t0
    tp.MARKS.clear()
    return (wrapped - plain) / n / 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timeline")
    parser.add_argument("--stream", action="store_true", help="paced streams' first event")
    parser.add_argument("--requests", type=int, default=200, help="per server")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hops", action="store_true", help="count event-loop iterations")
    parser.add_argument("--base", type=Path, help="run the router from this checkout")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    raise_nofile()
    cores = Cores()
    work = Path(tempfile.mkdtemp(prefix="bench-timeline-"))
    mock = start_mock(cores, work, 10, 5.0)
    servers: dict[str, Server] = {}
    sends: dict[str, list[tuple[int, int]]] = {}
    try:
        servers, mark_files = _start(
            cores, work, mock, args.hops, args.base.resolve() if args.base else None
        )
        targets = {"direct": Server("direct", mock.proc, mock.port), **servers}
        per_round = max(1, args.requests // args.rounds)
        for srv in targets.values():  # warm-up: connections, caches, first-call paths
            asyncio.run(_requests(srv.url, srv.key, args.stream, 10))
        for r in range(args.rounds):
            order = list(targets.items())
            for name, srv in order if r % 2 == 0 else reversed(order):
                got = asyncio.run(_requests(srv.url, srv.key, args.stream, per_round))
                sends.setdefault(name, []).extend(got)
    finally:
        for s in servers.values():
            stop(s.proc)
        stop(mock.proc)
    report: dict[str, Any] = {
        "first_ms": {n: statistics.median((b - a) / 1e6 for a, b in v) for n, v in sends.items()},
        "mark_cost_ns": wrapper_cost_ns(),
    }
    for name, path in mark_files.items():
        report[name] = timeline(json.loads(path.read_text()), sends[name])
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    what = "first event of a paced stream" if args.stream else "first byte of a plain answer"
    print(f"time to {what}, concurrency 1, {per_round * args.rounds} requests each (median ms):")
    for n, v in report["first_ms"].items():
        print(f"  {n:18s} {v:.3f}")
    print(f"one mark costs ~{report['mark_cost_ns']:.0f} ns in this interpreter")
    for name in mark_files:
        _print(name, report[name], args.hops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
