"""Interleaved rounds: servers measured turn by turn on the same load, so the ratios
of one round share the host's minute (``bench.ab``, ``bench.ladder`` and the
throughput figures ``bench.run`` judges).

A shared 2-CPU machine drifts by 10-20% from minute to minute; one pass per server
can put the pass-through in a good minute and the router in a bad one. Each round
here measures every server once (plain requests with wrk, then 32 concurrent
streams), in an order rotated per round; each figure is divided by the first
server's (the pass-through) from the same round, and the summary is the median of
those per-round ratios, with the server's CPU time per request or stream from
/proc (utime + stime), which load moves less.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.client import request_body, streams
from bench.procs import Cores
from bench.servers import Server
from bench.wrk import run_wrk, write_script

_TICK = os.sysconf("SC_CLK_TCK")

#: One round of one server: its plain-request figures and its stream figures.
Round = tuple[dict[str, float], dict[str, float]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def plain_load(
    cores: Cores, work: Path, server: Server, seconds: float, conns: int
) -> dict[str, float]:
    """wrk against ``server`` for ``seconds``: requests/s and CPU per request."""
    script = write_script(
        work / f"wrk-{server.name}.lua", request_body("m-fast", False), server.key
    )
    cpu0 = cpu_seconds(server.proc.pid)
    res = run_wrk(cores.prefix(cores.load), server.url, script, connections=conns, seconds=seconds)
    cpu = cpu_seconds(server.proc.pid) - cpu0
    return {"rps": res.rps, "cpu_us": 1e6 * cpu / max(res.requests, 1), "errors": res.errors}


def stream_load(server: Server, seconds: float, conns: int) -> dict[str, float]:
    """``conns`` back-to-back streams for ``seconds``: streams/s and CPU per stream."""
    cpu0 = cpu_seconds(server.proc.pid)
    res = asyncio.run(streams(server.url, server.key, "m-fast", conns, seconds))
    cpu = cpu_seconds(server.proc.pid) - cpu0
    return {
        "sps": res["streams_per_s"],
        "cpu_us": 1e6 * cpu / max(res["completed"], 1),
        "errors": res["errors"],
    }


def interleave(
    cores: Cores,
    work: Path,
    servers: Sequence[Server],
    rounds: int,
    seconds: float,
    conns: int,
    progress: Callable[[str], None] | None = None,
    *,
    with_streams: bool = True,
) -> dict[str, list[Round]]:
    """``rounds`` rounds over ``servers`` (the order rotated each round); without
    streams a round's stream figures are an empty dict."""
    rows: dict[str, list[Round]] = {s.name: [] for s in servers}
    for r in range(rounds):
        shift = r % len(servers)
        for srv in [*servers[shift:], *servers[:shift]]:
            plain = plain_load(cores, work, srv, seconds, conns)
            stream = stream_load(srv, seconds, conns) if with_streams else {}
            rows[srv.name].append((plain, stream))
        (progress or _stderr)(f"round {r + 1}/{rounds} done")
    return rows


def summarize(rows: dict[str, list[Round]], base: str) -> dict[str, dict[str, float]]:
    """Per server: medians of its per-round ratios to ``base`` and of its CPU figures."""
    out: dict[str, dict[str, float]] = {}
    pt = rows[base]
    for name, got in rows.items():
        fig = out[name] = {
            "rps_xPT": statistics.median(
                p["rps"] / b["rps"] for (p, _), (b, _) in zip(got, pt, strict=True)
            ),
            "rps": statistics.median(p["rps"] for p, _ in got),
            "cpu_us_per_req": statistics.median(p["cpu_us"] for p, _ in got),
            "errors": sum(p["errors"] + s.get("errors", 0) for p, s in got),
            "rounds": len(got),
        }
        if got and got[0][1]:  # the rounds ran streams
            fig["sps_xPT"] = statistics.median(
                s["sps"] / b["sps"] for (_, s), (_, b) in zip(got, pt, strict=True)
            )
            fig["sps"] = statistics.median(s["sps"] for _, s in got)
            fig["cpu_us_per_stream"] = statistics.median(s["cpu_us"] for _, s in got)
    return out


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)
