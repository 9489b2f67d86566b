"""The benchmark harness in smoke mode: every scenario runs with zero errors and the
report is written. Figures are not asserted (speed is the benchmark's job, not CI's)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.services import require_binary

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (
    "direct to mock",
    "pass-through",
    "VibeRouter (embedded)",
    "VibeRouter (Redis)",
    "VibeRouter --workers 2 (Redis)",
)


def _rows(report: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] in SCENARIOS:
            rows[cells[0]] = cells
    return rows


def test_bench_smoke_runs_every_scenario_without_errors(tmp_path: Path) -> None:
    require_binary("wrk", "wrk")
    require_binary("redis-server", "redis-server")
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = (out / "latest-smoke.md").read_text()
    rows = _rows(report)
    assert set(rows) == set(SCENARIOS), report
    for name, cells in rows.items():
        assert cells[-1] == "0", f"{name} had errors:\n{report}"
        assert cells[1] not in ("n/a", "0"), f"{name} measured no requests:\n{report}"
    assert "## Targets" in report
    # the throughput targets are judged on the interleaved rounds, and say so
    assert "interleaved round(s)" in report and "| CPU per stream |" in report, report
    assert list(out.glob("*-smoke.json")), "the raw figures are written next to the table"
