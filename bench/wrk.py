"""Non-streaming load with ``wrk`` (Debian package ``wrk``): RPS and latency percentiles."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_RPS = re.compile(rb"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(rb"(\d+) requests in")
_PCT = re.compile(rb"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_NON2XX = re.compile(rb"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(rb"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT_MS = {b"us": 0.001, b"ms": 1.0, b"s": 1000.0}


@dataclass
class WrkResult:
    """What one wrk run measured."""

    rps: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float


def wrk_binary() -> str | None:
    """Path of wrk, None when it is not installed."""
    return shutil.which("wrk")


def write_script(path: Path, body: bytes, key: str | None) -> Path:
    """A wrk Lua script that POSTs ``body`` with the bearer ``key``."""
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = [==[{body.decode()}]==]",
        'wrk.headers["Content-Type"] = "application/json"',
    ]
    if key:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {key}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def parse(output: bytes) -> WrkResult:
    """Read RPS, request count, errors and p50/p99 from ``wrk --latency`` output."""
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None:
        raise ValueError("unexpected wrk output:\n" + output.decode(errors="replace"))
    pcts = {m.group(1): float(m.group(2)) * _UNIT_MS[m.group(3)] for m in _PCT.finditer(output)}
    errors = 0
    if m := _NON2XX.search(output):
        errors += int(m.group(1))
    if m := _SOCKET.search(output):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        errors=errors,
        p50_ms=pcts.get(b"50", 0.0),
        p99_ms=pcts.get(b"99", 0.0),
    )


def run_wrk(
    prefix: list[str],
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkResult:
    """Run wrk against ``url`` (``prefix`` pins it to a CPU) and parse its report."""
    binary = wrk_binary()
    if binary is None:
        raise FileNotFoundError("wrk is not installed (apt-get install wrk)")
    cmd = [
        *prefix,
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, check=True, timeout=seconds + 30).stdout
    return parse(out)
