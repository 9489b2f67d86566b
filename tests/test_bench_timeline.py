"""``python -m bench.timeline``: the probed router and pass-through answer, and every
step of a stream's path is reported once per request, in the path's order. No
figure is asserted (speed is the benchmark's job, not CI's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SHORT = ("--requests", "5", "--rounds", "1")

#: Steps each request reaches one after the other, so their medians keep this order.
ROUTER_PATH = (
    "server: request bytes received",
    "boundary entered",
    "pipeline entered",
    "authenticated",
    "body read",
    "decoded",
    "planned",
    "admitted",
    "dispatch starts",
    "upstream request built",
    "upstream.send called",
    "upstream: request written",
    "upstream: response headers parsed",
    "reader fed",
    "chunks translated",
    "stream opened",
    "relay entered",
    "response prepared",
    "server: body bytes written",
    "client: first byte received",
)
PASSTHROUGH_PATH = (
    "server: request bytes received",
    "upstream: request started",
    "upstream: request written",
    "upstream: response headers parsed",
    "server: body bytes written",
    "client: first byte received",
)


def _in_order(rows: list[dict[str, object]], path: tuple[str, ...]) -> list[str]:
    names = [str(r["step"]) for r in rows]
    return [n for n in names if n in path]


def test_timeline_reports_every_step_in_order() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.timeline", "--stream", "--json", *_SHORT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert set(report["first_ms"]) == {"direct", "pass-through", "router", "router, unprobed"}
    assert _in_order(report["router"], ROUTER_PATH) == list(ROUTER_PATH)
    assert _in_order(report["pass-through"], PASSTHROUGH_PATH) == list(PASSTHROUGH_PATH)
    for row in report["router"]:
        assert row["seen"] == 5, row  # every request reached every step
