"""The Grafana dashboards against a real Prometheus scraping a real router.

A Prometheus (Debian's ``prometheus`` binary) scrapes the in-process router every
second while a mix of traffic runs: plain and streamed completions, upstream 500s on
a route of their own (retries, fallbacks, opening circuits), a mid-stream error,
unknown models, 429s from a key limited to 2 requests per minute. Then every PromQL
expression of every dashboard panel is evaluated through Prometheus's HTTP API and
must return data.
The keys sent never appear in the router's logs or metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from router_core.limits.base import RateLimits
from router_core.logs import configure_logging
from tests.router_harness import RunningRouter, router_settings, start_router
from tests.services import free_port, require_binary, wait_port
from tests.test_grafana_dashboards import DASHBOARDS, dashboard_queries, metric_names, substitute

SCRAPE_S = 1.0
RATE_WINDOW = "10s"

EXTRA_TOML = """
[providers.echo.models."echo-1"]
pricing = { prompt_per_mtok = 2.0, completion_per_mtok = 8.0 }

[providers.flaky]
plugin = "echo"

[providers.backup]
plugin = "echo"

[routes.pair]
deployments = ["flaky/echo-1", "backup/echo-1"]
"""


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    async def query(self, session: aiohttp.ClientSession, expr: str) -> dict[str, Any]:
        async with session.get(self.url + "/api/v1/query", params={"query": expr}) as r:
            body: dict[str, Any] = await r.json()
            return body

    async def label_values(
        self, session: aiohttp.ClientSession, label: str, match: str
    ) -> list[str]:
        async with session.get(
            f"{self.url}/api/v1/label/{label}/values", params={"match[]": match}
        ) as r:
            body = await r.json()
            assert body["status"] == "success", body
            return list(body["data"])


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """The router's structlog output (the real processor chain, JSON) in a buffer."""
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "info", stream=buf, cache=False)
    try:
        yield buf
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved


@pytest.fixture
async def router(tmp_path: Path, log_buffer: io.StringIO) -> AsyncIterator[RunningRouter]:
    r = await start_router(router_settings(tmp_path, extra_toml=EXTRA_TOML, retries=1))
    try:
        yield r
    finally:
        await r.stop()


def _start_prometheus(tmp: Path, target: str) -> Prometheus:
    binary = require_binary("prometheus", "prometheus")
    port = free_port()
    config = {
        "global": {"scrape_interval": f"{SCRAPE_S:g}s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "viberouter",
                "scrape_timeout": "900ms",
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    cfg = tmp / "prometheus.yml"
    cfg.write_text(json.dumps(config))  # JSON is YAML
    log = tmp / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, timeout=20)
    except TimeoutError:
        proc.kill()
        raise AssertionError("prometheus did not start:\n" + log.read_text()) from None
    return Prometheus(f"http://127.0.0.1:{port}", proc, log)


@pytest.fixture
def prometheus(tmp_path: Path, router: RunningRouter) -> Iterator[Prometheus]:
    """A real Prometheus scraping the router every second (temp storage, free port)."""
    prom = _start_prometheus(tmp_path, router.url.removeprefix("http://"))
    try:
        yield prom
    finally:
        prom.proc.terminate()
        try:
            prom.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.proc.kill()
            prom.proc.wait()


async def _wait_ready(prom: Prometheus, session: aiohttp.ClientSession) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            async with session.get(prom.url + "/-/ready") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("prometheus not ready:\n" + prom.log.read_text())


class Traffic:
    """Rounds of mixed requests until stopped (bounded in rounds and time)."""

    def __init__(self, router: RunningRouter, limited_key: str) -> None:
        self.router = router
        self.client = openai.AsyncOpenAI(
            base_url=router.base_url, api_key=router.key, max_retries=0
        )
        self.limited = openai.AsyncOpenAI(
            base_url=router.base_url, api_key=limited_key, max_retries=0
        )
        self.statuses: dict[int, int] = {}
        self.rounds = 0

    def _seen(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def _call(self, client: openai.AsyncOpenAI, **kwargs: Any) -> None:
        try:
            if kwargs.get("stream"):
                stream = await client.chat.completions.create(**kwargs)
                async for _ in stream:
                    pass
            else:
                await client.chat.completions.create(**kwargs)
            self._seen(200)
        except openai.APIStatusError as exc:
            self._seen(exc.status_code)
        except openai.APIConnectionError:
            raise
        except openai.APIError:
            self._seen(200)  # a stream that carried an in-band error after its 200

    async def one_round(self, session: aiohttp.ClientSession) -> None:
        user = [{"role": "user", "content": "hello metrics world"}]
        fail = [{"role": "user", "content": "[[echo:status=500]] please fail"}]
        c = self.client
        await asyncio.gather(
            self._call(c, model="echo", messages=user),
            self._call(
                c, model="echo", messages=user, stream=True, stream_options={"include_usage": True}
            ),
            self._call(
                c,
                model="echo",
                stream=True,
                messages=[{"role": "user", "content": "[[echo:error-midstream]] a b c d"}],
            ),
            # failures go to their own route, so the echo deployment's circuit stays closed
            self._call(c, model="pair", messages=fail),
            self._call(c, model="no-such-model", messages=user),
            self._call(c, model=self.router.key, messages=user),  # a key pasted as a model
            self._call(self.limited, model="echo", messages=user),
        )
        # the key as a request id, on the wire the SDK does not control
        async with session.post(
            self.router.base_url + "/chat/completions",
            json={"model": "echo", "messages": user},
            headers={"Authorization": f"Bearer {self.router.key}", "X-Request-ID": self.router.key},
        ) as r:
            self._seen(r.status)
        self.rounds += 1

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and self.rounds < 200:
            await self.one_round(session)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)


def _has_data(body: dict[str, Any]) -> bool:
    if body.get("status") != "success":
        return False
    result = body["data"]["result"]
    values = [float(r["value"][1]) for r in result] if isinstance(result, list) else []
    return any(not math.isnan(v) for v in values)


async def test_dashboards_show_live_data_from_a_real_scrape(
    router: RunningRouter, prometheus: Prometheus, log_buffer: io.StringIO
) -> None:
    _, limited_key = await router.state.accounts.create_key(
        router.account_id, "x", limits=RateLimits(rpm=2)
    )
    traffic = Traffic(router, limited_key)
    queries = dashboard_queries()
    assert len(queries) >= 30
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        await _wait_ready(prometheus, session)
        runner = asyncio.create_task(traffic.run(session, stop))
        try:
            pending = dict(queries)
            failures: dict[str, Any] = {}
            deadline = time.monotonic() + 20
            await asyncio.sleep(4 * SCRAPE_S)
            while pending and time.monotonic() < deadline:
                for where, expr in list(pending.items()):
                    promql = substitute(expr, rate_window=RATE_WINDOW, range_="1m")
                    body = await prometheus.query(session, promql)
                    assert body.get("status") == "success", f"{where}: {promql}: {body}"
                    if _has_data(body):
                        del pending[where]
                    else:
                        failures[where] = (promql, body["data"]["result"])
                if pending:
                    await asyncio.sleep(SCRAPE_S)
            assert not pending, "panels without data:\n" + "\n".join(
                f"{w}: {failures[w]}" for w in pending
            )
            for label, match in (
                ("model", "viberouter_requests_total"),
                ("provider", "viberouter_upstream_duration_seconds_count"),
            ):
                assert await prometheus.label_values(session, label, match)
        finally:
            stop.set()
            await runner
        async with session.get(router.url + "/metrics") as r:
            exposition = await r.text()

    # the traffic did what the panels claim to show
    assert traffic.statuses.get(200, 0) > 0
    assert traffic.statuses.get(429, 0) > 0
    assert traffic.statuses.get(400, 0) > 0
    assert any(status >= 500 for status in traffic.statuses)

    exposed = {s.name for fam in text_string_to_metric_families(exposition) for s in fam.samples}
    for dashboard in DASHBOARDS:
        missing = metric_names(dashboard) - exposed
        assert not missing, f"{dashboard.name} uses metrics /metrics lacks: {missing}"

    # the keys never reach logs or metrics
    logs = log_buffer.getvalue()
    assert '"event":"request"' in logs.replace('": "', '":"')
    records = [json.loads(line) for line in logs.splitlines()]
    assert any(r.get("status") == 429 for r in records)
    upstream_failures = [r for r in records if r.get("error") == "model_error"]
    assert upstream_failures and all(r.get("error_detail") for r in upstream_failures)
    assert any(r.get("request_id") == "[REDACTED]" for r in records)
    for secret in (router.key, limited_key):
        assert secret not in logs
        assert secret not in exposition
