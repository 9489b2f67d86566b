"""The measurements of one scenario: wrk for plain requests, the asyncio client for
streams, overhead header, held streams and the soak."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.client import request_body
from bench.procs import Cores, hwm_kb, rss_kb
from bench.servers import Server, redis_cli
from bench.wrk import run_wrk, write_script


@dataclass(frozen=True)
class Plan:
    """How long and how hard each phase runs."""

    warmup_s: float
    latency_s: float
    load_s: float
    load_connections: int
    stream_s: float
    stream_concurrency: int
    paced_streams: int
    sequential: int
    hold_streams: int
    chunks: int
    delay_ms: float
    #: Interleaved rounds of the pass-through and the embedded router (bench/rounds.py),
    #: whose median ratios the throughput targets are judged on.
    rounds: int = 3
    round_s: float = 3.0


FULL = Plan(
    warmup_s=1,
    latency_s=3,
    load_s=5,
    load_connections=64,
    stream_s=4,
    stream_concurrency=32,
    paced_streams=40,
    sequential=300,
    hold_streams=10_000,
    chunks=10,
    delay_ms=5.0,
)
SMOKE = Plan(
    warmup_s=0,
    latency_s=1,
    load_s=1,
    load_connections=8,
    stream_s=1,
    stream_concurrency=4,
    paced_streams=3,
    sequential=20,
    hold_streams=50,
    chunks=3,
    delay_ms=2.0,
    rounds=1,
    round_s=1.0,
)


@dataclass
class Row:
    """Everything measured for one scenario (None = not measured)."""

    name: str
    rps: float | None = None
    load_p50_ms: float | None = None
    load_p99_ms: float | None = None
    c1_p50_ms: float | None = None
    c1_p99_ms: float | None = None
    streams_per_s: float | None = None
    ttft_p50_ms: float | None = None
    gap_p50_ms: float | None = None
    gap_p99_ms: float | None = None
    overhead_p50_ms: float | None = None
    idle_rss_mb: float | None = None
    rss_mb: float | None = None
    peak_rss_mb: float | None = None
    startup_s: float | None = None
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _client(cores: Cores, mode: str, server: Server, *args: str) -> dict[str, Any]:
    cmd = [
        *cores.prefix(cores.load),
        sys.executable,
        "-m",
        "bench.client",
        mode,
        "--url",
        server.url,
        *(["--key", server.key] if server.key else []),
        *args,
    ]
    out = subprocess.run(
        cmd, capture_output=True, check=True, timeout=1200, cwd=Path(__file__).parent.parent
    ).stdout
    parsed: dict[str, Any] = json.loads(out.splitlines()[-1])
    return parsed


def _mb(kb: int) -> float:
    return round(kb / 1024.0, 1)


def measure(cores: Cores, work: Path, server: Server, plan: Plan, *, overhead_header: bool) -> Row:
    """Run every load phase against ``server`` and collect one table row."""
    row = Row(server.name, startup_s=server.startup_s)
    time.sleep(0.3)
    row.idle_rss_mb = _mb(sum(rss_kb(p) for p in server.pids()))
    script = write_script(
        work / f"wrk-{server.port}.lua", request_body("m-fast", False), server.key
    )
    prefix = cores.prefix(cores.load)
    if plan.warmup_s:
        run_wrk(prefix, server.url, script, connections=16, seconds=plan.warmup_s)
    c1 = run_wrk(prefix, server.url, script, connections=1, seconds=plan.latency_s)
    row.c1_p50_ms, row.c1_p99_ms = c1.p50_ms, c1.p99_ms
    load = run_wrk(
        prefix, server.url, script, connections=plan.load_connections, seconds=plan.load_s
    )
    row.rps, row.load_p50_ms, row.load_p99_ms = load.rps, load.p50_ms, load.p99_ms
    row.errors += c1.errors + load.errors
    streams = _client(
        cores,
        "streams",
        server,
        "--model",
        "m-fast",
        "--concurrency",
        str(plan.stream_concurrency),
        "--duration",
        str(plan.stream_s),
    )
    row.streams_per_s = streams["streams_per_s"]
    row.errors += streams["errors"]
    paced = _client(
        cores, "paced", server, "--model", "m-paced", "--count", str(plan.paced_streams)
    )
    row.ttft_p50_ms, row.gap_p50_ms, row.gap_p99_ms = (
        paced["ttft_p50_ms"],
        paced["gap_p50_ms"],
        paced["gap_p99_ms"],
    )
    row.errors += paced["errors"]
    if overhead_header:
        seq = _client(cores, "sequential", server, "--count", str(plan.sequential))
        row.overhead_p50_ms = seq["overhead_p50_ms"]
        row.errors += seq["errors"]
    row.rss_mb = _mb(sum(rss_kb(p) for p in server.pids()))
    row.peak_rss_mb = _mb(sum(hwm_kb(p) for p in server.pids()))
    return row


def held_streams(cores: Cores, server: Server, count: int) -> dict[str, Any]:
    """Open ``count`` streams through ``server`` and hold them; memory per stream."""
    pids = [arg for p in server.pids() for arg in ("--pid", str(p))]
    return _client(cores, "hold", server, "--model", "m-hold", "--count", str(count), *pids)


def soak(cores: Cores, server: Server, rate: float, seconds: float) -> dict[str, Any]:
    """Half load for ``seconds``; growth of memory after the first fifth (warm-up)."""
    pids = [arg for p in server.pids() for arg in ("--pid", str(p))]
    result = _client(
        cores,
        "soak",
        server,
        "--rate",
        str(rate),
        "--duration",
        str(seconds),
        "--sample-every",
        str(max(1.0, seconds / 60)),
        *pids,
    )
    samples: list[list[float]] = result["samples"]
    warm = [kb for t, kb in samples if t >= seconds / 5]
    if len(warm) >= 2:
        base, last = warm[0], sum(warm[-3:]) / len(warm[-3:])
        result["growth_pct"] = round((last - base) / base * 100.0, 2)
        result["rss_after_warmup_mb"] = _mb(int(base))
        result["rss_end_mb"] = _mb(int(last))
    return result


def redis_round_trips(
    cores: Cores, server: Server, redis_port: int, work: Path, count: int
) -> dict[str, Any]:
    """Redis commands per request (INFO commandstats) and limiter admission scripts
    per request (MONITOR, matched by the acquire script's SHA1), over ``count``
    sequential requests."""
    from router_core.limits.scripts import ACQUIRE, SETTLE

    acquire_sha = hashlib.sha1(ACQUIRE.encode()).hexdigest()
    settle_sha = hashlib.sha1(SETTLE.encode()).hexdigest()
    # one request first so scripts are loaded and the key is cached
    _client(cores, "sequential", server, "--count", "1")
    redis_cli(redis_port, "CONFIG", "RESETSTAT")
    log = work / "redis-monitor.log"
    with log.open("wb") as out:
        monitor = subprocess.Popen(
            ["redis-cli", "-p", str(redis_port), "MONITOR"], stdout=out, stderr=subprocess.STDOUT
        )
        time.sleep(0.3)
        _client(cores, "sequential", server, "--count", str(count))
        time.sleep(0.3)
        monitor.terminate()
        monitor.wait(timeout=10)
    stats = redis_cli(redis_port, "INFO", "commandstats")
    calls: dict[str, int] = {}
    for line in stats.splitlines():
        if line.startswith("cmdstat_"):
            name, _, rest = line.partition(":")
            fields = dict(kv.split("=", 1) for kv in rest.split(","))
            calls[name[len("cmdstat_") :]] = int(fields["calls"])
    monitored = log.read_text(errors="replace")
    acquires = monitored.count(acquire_sha)
    settles = monitored.count(settle_sha)
    # MONITOR marks commands run inside Lua scripts with "lua]"; the rest came from clients
    sent = [
        line.split('"', 2)[1].lower()
        for line in monitored.splitlines()
        if '"' in line and "lua]" not in line
    ]
    by_command: dict[str, int] = {}
    for name in sent:
        by_command[name] = by_command.get(name, 0) + 1
    return {
        "requests": count,
        "client_commands_per_request": round(len(sent) / count, 3),
        "client_commands": by_command,
        "calls_incl_scripts": calls,
        "acquire_scripts_per_request": round(acquires / count, 3),
        "settle_scripts_per_request": round(settles / count, 3),
    }
