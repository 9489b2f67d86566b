"""The Markdown report: one row per scenario, each row's ratio to the pass-through
baseline, then the targets and whether this run met them."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Row

PASS_THROUGH = "pass-through"
DIRECT = "direct to mock"


@dataclass
class Target:
    """One target of the issue and this run's figure for it."""

    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


def _f(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"{value / base:.2f}x"


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def find(rows: Sequence[Row], name: str) -> Row | None:
    """The row called ``name``."""
    return next((r for r in rows if r.name == name), None)


def table(rows: Sequence[Row]) -> str:
    """The main table (latency in ms, memory in MB)."""
    direct = find(rows, DIRECT)
    pt = find(rows, PASS_THROUGH)
    head = (
        "| scenario | RPS | xPT | p50 / p99 @64 | p50 / p99 @1 | added p50 @1 | xPT "
        "| streams/s | xPT | TTFT p50 | added TTFT | gap p50 / p99 | overhead hdr p50 "
        "| RSS idle / after / peak | start-up s | errors |"
    )
    lines = [head, "|" + "---|" * 16]
    pt_added = _sub(pt.c1_p50_ms, direct.c1_p50_ms) if pt and direct else None
    for r in rows:
        added = _sub(r.c1_p50_ms, direct.c1_p50_ms) if direct else None
        added_ttft = _sub(r.ttft_p50_ms, direct.ttft_p50_ms) if direct else None
        lines.append(
            "| "
            + " | ".join(
                [
                    r.name,
                    _f(r.rps, 0),
                    _ratio(r.rps, pt.rps if pt else None),
                    f"{_f(r.load_p50_ms)} / {_f(r.load_p99_ms)}",
                    f"{_f(r.c1_p50_ms, 3)} / {_f(r.c1_p99_ms, 3)}",
                    _f(added, 3),
                    _ratio(added, pt_added) if r.name not in (DIRECT,) else "n/a",
                    _f(r.streams_per_s, 0),
                    _ratio(r.streams_per_s, pt.streams_per_s if pt else None),
                    _f(r.ttft_p50_ms, 3),
                    _f(added_ttft, 3),
                    f"{_f(r.gap_p50_ms, 3)} / {_f(r.gap_p99_ms, 3)}",
                    _f(r.overhead_p50_ms, 3),
                    f"{_f(r.idle_rss_mb, 1)} / {_f(r.rss_mb, 1)} / {_f(r.peak_rss_mb, 1)}",
                    _f(r.startup_s, 2),
                    str(r.errors),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    """The targets with this run's figures."""
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for t in targets:
        met = "not run" if t.met is None else ("yes" if t.met else "**no**")
        lines.append(f"| {t.name} | {t.goal} | {t.measured} | {met} |")
    return "\n".join(lines)


def machine() -> str:
    """CPU model, CPU count, kernel and Python, for the report's header."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def render(
    rows: Sequence[Row],
    targets: Sequence[Target],
    *,
    mode: str,
    notes: Sequence[str],
    started: dt.datetime,
) -> str:
    """The whole report as Markdown."""
    parts = [
        f"# VibeRouter benchmark ({mode})",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        "Latency in ms, memory in MB. `@64` = 64 connections (wrk), `@1` = one connection. "
        "`added` = minus the direct-to-mock figure. `xPT` = ratio to the pass-through row. "
        "TTFT and gap come from paced streams at concurrency 1.",
        "",
        table(rows),
        "",
        "## Targets",
        "",
        targets_table(targets),
    ]
    if notes:
        parts += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    for r in rows:
        if r.notes:
            parts += ["", f"### {r.name}", ""] + [f"- {n}" for n in r.notes]
    return "\n".join(parts) + "\n"
