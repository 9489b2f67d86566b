"""The metrics and log events observed through the real router: per-deployment series
from start-up, opt-in tenant series, store failures, upstream failures in the log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from router_core.logs import configure_logging
from router_core.metrics import Metrics
from tests.router_harness import router_settings, start_router

USER = [{"role": "user", "content": "hello tenants"}]


def sample(m: Metrics, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(m.exposition().decode()):
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "info", stream=buf, cache=False)
    try:
        yield buf
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved


async def test_deployments_are_exposed_from_start_up(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path), create_key=False)
    try:
        m = router.state.metrics
        labels = {"provider": "echo", "deployment": "echo/echo-1"}
        assert sample(m, "viberouter_circuit_state", **labels) == 0
        assert sample(m, "viberouter_retries_total", **labels) == 0
    finally:
        await router.stop()


async def test_tenant_series_when_turned_on(tmp_path: Path) -> None:
    settings = router_settings(
        tmp_path, extra_toml='[metrics]\ntenant_labels = "key"\ntenant_cap = 1\n'
    )
    router = await start_router(settings)
    try:
        _, second = await router.state.accounts.create_key(router.account_id, "second")
        for key in (router.key, second, second):
            client = openai.AsyncOpenAI(base_url=router.base_url, api_key=key, max_retries=0)
            await client.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
        m = router.state.metrics
        mine = {"account": router.account_id, "key": router.key_id}
        assert sample(m, "viberouter_tenant_requests_total", **mine) == 1
        assert sample(m, "viberouter_tenant_requests_total", account="_other", key="_other") == 2
        text = m.exposition().decode()
        assert router.key not in text and second not in text
    finally:
        await router.stop()


async def test_store_failures_are_counted(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        await client.chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
        await router.state.store.close()  # the store goes away under the ledger
        await router.state.ledger.flush()
        m = router.state.metrics
        assert (
            sample(m, "viberouter_backend_errors_total", backend="store", kind="ledger_flush") == 1
        )
    finally:
        await router.stop()


async def test_upstream_failures_are_logged_with_detail(
    tmp_path: Path, log_buffer: io.StringIO
) -> None:
    router = await start_router(router_settings(tmp_path, retries=1))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        with pytest.raises(openai.APIStatusError):
            await client.chat.completions.create(
                model="echo",
                messages=[{"role": "user", "content": "[[echo:status=500]] x"}],
            )
    finally:
        await router.stop()
    events = [json.loads(line) for line in log_buffer.getvalue().splitlines()]
    failed = [e for e in events if e["event"] == "upstream_failed"]
    assert [e["attempt"] for e in failed] == [0, 1]
    (request,) = [e for e in events if e["event"] == "request"]
    for e in failed:
        assert e["deployment"] == "echo/echo-1" and e["code"] == "model_error"
        assert "500" in e["detail"]
        assert e["request_id"] == request["request_id"]


async def test_refusals_at_decode_are_counted_with_an_empty_model(tmp_path: Path) -> None:
    from tests.router_harness import post_chat

    router = await start_router(router_settings(tmp_path))
    try:
        m = router.state.metrics
        bodies = (
            b'{"model": "echo", "messages": [',  # malformed JSON
            b'{"model": "echo", "messages": []}',  # a field rule broken
            b'{"model": "echo", "messages": [{"role": "user", "content": "\xff"}]}',
        )
        for body in bodies:
            assert (await post_chat(router, body)).status == 400
        assert (
            sample(
                m,
                "viberouter_requests_total",
                model="",
                provider="",
                status="400",
                code="invalid_request",
                endpoint="openai_chat",
            )
            == 3
        )
        typed = {"model": "secret-looking-name", "messages": [{"role": "user", "content": "x"}]}
        assert (await post_chat(router, typed)).status == 400  # unknown model: label ""
        assert "secret-looking-name" not in m.exposition().decode()
        assert (
            sample(
                m,
                "viberouter_requests_total",
                model="",
                provider="",
                status="400",
                code="invalid_model",
                endpoint="openai_chat",
            )
            == 1
        )
    finally:
        await router.stop()
