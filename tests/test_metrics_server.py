"""router_core/metrics_server.py and serve.py's metrics: the separate ``metrics.listen``
listener, and ``serve --workers N`` merging every worker's values (multiprocess mode)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from router_core.app import build_state, make_app
from router_core.metrics import MULTIPROC_ENV
from router_core.metrics_server import attach_metrics, parse_listen
from router_core.serve import multiprocess_metrics
from tests.router_harness import router_settings, serve_app
from tests.router_process import start_router_process
from tests.services import RedisServer, free_port

MSG = {"model": "echo", "messages": [{"role": "user", "content": "count me"}]}


def requests_total(text: str) -> float:
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        if fam.name == "viberouter_requests"
        for s in fam.samples
        if s.name == "viberouter_requests_total"
    )


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        (":9464", ("0.0.0.0", 9464)),
        ("[::1]:9464", ("::1", 9464)),
        ("metrics.internal:1", ("metrics.internal", 1)),
    ],
)
def test_parse_listen(address: str, expected: tuple[str, int]) -> None:
    assert parse_listen(address) == expected


@pytest.mark.parametrize("address", ["9464", "host:", "host:port", "host:70000", "host:0"])
def test_parse_listen_refuses_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError, match=r"metrics\.listen"):
        parse_listen(address)


async def test_separate_listener_serves_metrics_and_main_port_does_not(tmp_path: Path) -> None:

    mport = free_port()
    settings = router_settings(tmp_path, extra_toml=f'[metrics]\nlisten = "127.0.0.1:{mport}"\n')
    state = build_state(settings)
    app = make_app(settings, state)
    attach_metrics(app, settings.metrics.listen)
    runner, port = await serve_app(app, access_log=None)
    try:
        account = await state.accounts.create_account("m")
        _, secret = await state.accounts.create_key(account.id, "m")
        async with aiohttp.ClientSession() as s:
            async with s.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=MSG,
                headers={"Authorization": f"Bearer {secret}"},
            ) as r:
                assert r.status == 200
            async with s.get(f"http://127.0.0.1:{port}/metrics") as r:
                assert r.status == 404
            async with s.get(f"http://127.0.0.1:{mport}/metrics") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                text = await r.text()
        assert requests_total(text) == 1
        assert "viberouter_build_info{" in text
    finally:
        await runner.cleanup()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{mport}/metrics"):
            pass


def test_multiprocess_dir_is_temporary_unless_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with multiprocess_metrics(True) as path:
        assert path is not None and os.path.isdir(path)
        assert os.environ[MULTIPROC_ENV] == path
    assert not os.path.exists(path)
    assert MULTIPROC_ENV not in os.environ

    given = tmp_path / "operator-dir"
    monkeypatch.setenv(MULTIPROC_ENV, str(given))
    with multiprocess_metrics(True) as path:
        assert path == str(given) and given.is_dir()
    assert given.is_dir()  # the operator's directory is theirs to clean

    monkeypatch.delenv(MULTIPROC_ENV)
    with multiprocess_metrics(False) as path:
        assert path is None
        assert MULTIPROC_ENV not in os.environ


def _worker_requests(metrics_dir: Path) -> dict[str, float]:
    """Requests counted by each worker, read from its own multiprocess file."""
    out: dict[str, float] = {}
    for f in metrics_dir.glob("counter_*.db"):
        total = 0.0
        for metric in MultiProcessCollector.merge([str(f)]):
            total += sum(s.value for s in metric.samples if s.name == "viberouter_requests_total")
        out[f.stem.removeprefix("counter_")] = total
    return out


def test_workers_metrics_are_merged(tmp_path: Path, redis_proc: RedisServer) -> None:
    import redis

    from router_core.cli import main

    redis_proc.start()
    redis.Redis.from_url(redis_proc.url).flushall()
    mport = free_port()
    cfg = tmp_path / "w.toml"
    cfg.write_text(
        f'[state]\nbackend = "redis"\nredis_url = "{redis_proc.url}"\n'
        '[auth]\nbootstrap_demo_key = false\n[logging]\nformat = "json"\naccess_log = false\n'
        f'[metrics]\nlisten = "127.0.0.1:{mport}"\n'
        '[providers.echo]\nplugin = "echo"\n'
        '[routes.echo]\ndeployments = ["echo/echo-1"]\n'
    )
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["--config", str(cfg), "accounts", "create", "w", "--json"], environ={}) == 0
    account = json.loads(buf.getvalue())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert (
            main(["--config", str(cfg), "keys", "create", account["id"], "--json"], environ={}) == 0
        )
    key = json.loads(buf.getvalue())["secret"]

    metrics_dir = tmp_path / "prom-multiproc"
    proc = start_router_process(
        cfg, tmp_path, args=("--workers", "2"), env={MULTIPROC_ENV: str(metrics_dir)}
    )
    try:
        import urllib.request

        def post() -> None:
            req = urllib.request.Request(
                proc.base_url + "/chat/completions",
                data=json.dumps(MSG).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:  # a new connection each time
                assert r.status == 200

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as r:
                return str(r.read().decode())

        # the metrics listener is up once both workers bound it
        deadline = time.monotonic() + 20
        while len(list(metrics_dir.glob("counter_*.db"))) < 2:
            assert time.monotonic() < deadline, proc.output()
            time.sleep(0.05)
        sent = 0
        while sent < 200:
            post()
            sent += 1
            per_worker = _worker_requests(metrics_dir)
            if sent >= 10 and len(per_worker) == 2 and all(per_worker.values()):
                break
        assert len(per_worker) == 2 and all(per_worker.values()), per_worker
        # a request is counted once its answer is handed to the socket, so the
        # client can read the last answer a moment before its worker counts it
        deadline = time.monotonic() + 5
        while sum(per_worker.values()) < sent and time.monotonic() < deadline:
            time.sleep(0.01)
            per_worker = _worker_requests(metrics_dir)
        assert sum(per_worker.values()) == sent, per_worker
        for _ in range(6):  # each scrape may land on either worker: all see the sum
            text = scrape()
            assert requests_total(text) == sent
            assert text.count("viberouter_build_info{") == 1
            in_flight = [
                s.value
                for fam in text_string_to_metric_families(text)
                for s in fam.samples
                if s.name == "viberouter_in_flight_requests"
            ]
            assert in_flight == [0.0]
    finally:
        proc.stop()
