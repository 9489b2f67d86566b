"""``python -m bench.ladder [--rounds N]``: what the issue's features cost by themselves.

Runs the bare pass-through, the six rungs of ``bench.floor`` (the leanest gateway
with parsing, auth, limits, metrics, the access line and deadlines, added one at a
time) and the router, side by side on the server CPU, and measures them round after
round in rotating order, as ``bench.ab`` does: plain requests (wrk, 32 connections)
and streams (the asyncio client, 32 concurrent). Per server it prints the median
CPU time per plain request and per stream (utime + stime from /proc, which other
work on the host moves less than throughput) and the median throughput ratio to the
pass-through of the same round, then a Markdown table.

The question it answers: with those features on, and nothing else, how close to
the pass-through can a gateway on this stack get? If the top rung already costs
more CPU per request than ``1 / 0.70`` of the pass-through's, no design of the rest
reaches 0.70x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.ab import _router
from bench.floor import BENCH_KEY, LEVELS
from bench.procs import Cores, raise_nofile, stop
from bench.rounds import interleave, summarize
from bench.servers import Server, start_mock, start_passthrough
from bench.servers import start_floor as start_floor_at


def start_floor(cores: Cores, work: Path, upstream_port: int, level: int) -> Server:
    """``bench.floor`` at ``level`` on the server CPU, named after its rung."""
    server = start_floor_at(cores, work, upstream_port, level, f"+{LEVELS[level - 1]}")
    server.key = BENCH_KEY if level >= 2 else None
    return server


def main(argv: list[str] | None = None) -> int:
    """Command line entry: ``python -m bench.ladder``."""
    parser = argparse.ArgumentParser(prog="python -m bench.ladder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="only the JSON summary")
    args = parser.parse_args(argv)
    raise_nofile()
    cores = Cores()
    work = Path(tempfile.mkdtemp(prefix="bench-ladder-"))
    started = time.monotonic()
    mock = start_mock(cores, work, 10, 5.0)
    servers: list[Server] = []
    try:
        servers.append(start_passthrough(cores, work, mock.port))
        servers += [start_floor(cores, work, mock.port, n) for n in range(1, len(LEVELS) + 1)]
        servers.append(_router(cores, work, mock, "router", None, None))
        rows = interleave(cores, work, servers, args.rounds, args.seconds, args.connections)
        summary = summarize(rows, servers[0].name)
        print(json.dumps(summary, indent=1))
        if not args.json:
            print()
            print(_table(summary))
        print(f"\n{args.rounds} rounds in {time.monotonic() - started:.0f} s", file=sys.stderr)
    finally:
        for s in servers:
            stop(s.proc)
        stop(mock.proc)
    return 0


def _table(summary: dict[str, dict[str, float]]) -> str:
    names = list(summary)
    pt = summary[names[0]]
    lines = [
        "| server | CPU us / plain request | x PT CPU | requests/s x PT "
        "| CPU us / stream | x PT CPU | streams/s x PT | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in names:
        f = summary[n]
        lines.append(
            f"| {n} | {f['cpu_us_per_req']:.0f} | {f['cpu_us_per_req'] / pt['cpu_us_per_req']:.2f}x"
            f" | {f['rps_xPT']:.2f}x | {f['cpu_us_per_stream']:.0f}"
            f" | {f['cpu_us_per_stream'] / pt['cpu_us_per_stream']:.2f}x"
            f" | {f['sps_xPT']:.2f}x | {f['errors']:.0f} |"
        )
    budget = pt["cpu_us_per_req"] / 0.70
    sbudget = pt["cpu_us_per_stream"] / 0.70
    lines.append("")
    lines.append(
        f"0.70x the pass-through's throughput leaves at most {budget:.0f} us of CPU per plain "
        f"request and {sbudget:.0f} us per stream (the pass-through's / 0.70)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
