"""``bench.floor`` (the leanest gateway with the issue's features) does each rung's
job against the benchmark's mock upstream, and ``bench.ladder`` measures every rung
and the router without errors. No figure is asserted (speed is the benchmark's job)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from bench.client import request_body
from bench.floor import BENCH_KEY, LEVELS
from bench.ladder import start_floor
from bench.procs import Cores, stop
from bench.servers import Server, start_mock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def floor_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("floor")


@pytest.fixture(scope="module")
def floors(floor_dir: Path) -> Iterator[dict[int, Server]]:
    work = floor_dir
    cores = Cores()
    mock = start_mock(cores, work, 3, 1.0)
    servers: dict[int, Server] = {}
    try:
        for level in (1, 2, len(LEVELS)):
            servers[level] = start_floor(cores, work, mock.port, level)
        yield servers
    finally:
        for s in servers.values():
            stop(s.proc)
        stop(mock.proc)


async def _post(server: Server, stream: bool, key: str | None) -> tuple[int, CIMultiDict[str], str]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.url, data=request_body("m-fast", stream), headers=headers) as r,
    ):
        return r.status, CIMultiDict(r.headers), await r.text()


async def test_every_rung_answers_plain_and_streamed(floors: dict[int, Server]) -> None:
    for level, server in floors.items():
        status, _, text = await _post(server, False, server.key)
        assert status == 200, (level, text)
        assert json.loads(text)["usage"]["completion_tokens"] > 0
        status, headers, text = await _post(server, True, server.key)
        assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
        assert text.rstrip().endswith("data: [DONE]"), (level, text[-200:])


async def test_auth_and_limits_rungs_do_their_job(floors: dict[int, Server]) -> None:
    assert (await _post(floors[1], False, None))[0] == 200  # no auth below the auth rung
    for level in (2, len(LEVELS)):
        status, _, text = await _post(floors[level], False, None)
        assert status == 401 and json.loads(text)["error"] == "invalid_api_key"
        assert (await _post(floors[level], False, BENCH_KEY + "x"))[0] == 401
    status, headers, _ = await _post(floors[len(LEVELS)], True, BENCH_KEY)
    assert status == 200
    assert headers["x-request-id"].startswith("req-")
    assert int(headers["x-ratelimit-remaining-requests"]) < int(
        headers["x-ratelimit-limit-requests"]
    )
    assert headers["Cache-Control"] == "no-cache"


async def test_routing_and_accounting_rungs_do_their_job(floors: dict[int, Server]) -> None:
    top = floors[len(LEVELS)]
    for stream in (False, True):
        status, served, _ = await _post(top, stream, BENCH_KEY)
        assert status == 200
        assert served["X-Deployment"] == "mock/first" and served["X-Provider"] == "mock"
        assert float(served["X-Overhead-Ms"]) >= 0
    # a model the key may not use, and one the full schema refuses
    headers = {"Authorization": f"Bearer {BENCH_KEY}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        body = json.loads(request_body("m-fast", False))
        for change, status, code in (
            ({"model": "m-other"}, 404, "invalid_model"),
            ({"temperature": 9}, 400, "invalid_request"),  # the router's bounds
            ({"max_tokens": 10**9}, 400, "invalid_request"),  # past the context window
        ):
            async with s.post(top.url, json={**body, **change}, headers=headers) as r:
                assert (r.status, (await r.json())["error"]) == (status, code), change


def _ledger_rows(path: Path) -> int:
    """Priced rows in a floor's ledger (0 while it does not exist yet)."""
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM usage WHERE cost_usd > 0").fetchone()[0])


async def test_accounting_rung_writes_its_ledger(
    floors: dict[int, Server], floor_dir: Path
) -> None:
    top = floors[len(LEVELS)]
    assert (await _post(top, False, BENCH_KEY))[0] == 200
    # beside its access log, written in batches every 50 ms
    path = floor_dir / f"floor-{len(LEVELS)}-access.log.ledger.db"
    rows = 0
    for _ in range(50):  # up to 5 s
        rows = _ledger_rows(path)
        if rows:
            break
        await asyncio.sleep(0.1)
    assert rows > 0


def test_ladder_measures_every_rung_and_the_router() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ladder", "--rounds", "1", "--seconds", "0.3", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads(proc.stdout)
    assert list(summary) == ["pass-through", *(f"+{n}" for n in LEVELS), "router"]
    for name, fig in summary.items():
        assert fig["errors"] == 0, name
        assert fig["cpu_us_per_req"] > 0 and fig["cpu_us_per_stream"] > 0, name
