"""Routes, client ``models`` fallbacks, load balancing and the circuit breaker through
the real router in front of fault upstreams (openai SDK as the client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.fault_upstream import HELLO, FaultUpstream, Rig, Step, fakes, start_rig


@pytest.fixture
async def ups() -> AsyncIterator[dict[str, FaultUpstream]]:
    async for started in fakes():
        yield started


async def statuses(rig: Rig) -> dict[str, str]:
    return {m.id: m.status for m in (await rig.client.models.list()).data}  # type: ignore[attr-defined]


def circuit_gauge(rig: Rig, deployment: str) -> float | None:
    return rig.router.state.metrics.registry.get_sample_value(
        "viberouter_circuit_state",
        {"provider": deployment.split("/")[0], "deployment": deployment},
    )


CIRCUIT = "[routing.circuit]\nfailures = 2\nwindow_s = 30\ncooldown_s = 0.4\n"


async def test_circuit_opens_skips_half_opens_and_closes(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra=CIRCUIT)
    try:
        rig.a.default = Step("status", status=500)
        for _ in range(2):
            _, headers = await rig.create()
            assert headers["x-viberouter-deployment"] == "b/m2"
        assert rig.attempts()["a"] == 2
        assert circuit_gauge(rig, "a/m1") == 2
        st = await statuses(rig)
        assert st["a/m1"] == "unavailable"
        assert st["smart"] == "degraded"
        assert st["b/m2"] == "available"

        _, headers = await rig.create()  # a is skipped while open
        assert headers["x-viberouter-deployment"] == "b/m2"
        assert rig.attempts()["a"] == 2

        await asyncio.sleep(0.45)  # cool-down over: half-open
        assert (await statuses(rig))["a/m1"] == "degraded"
        assert circuit_gauge(rig, "a/m1") == 1
        rig.a.default = Step("ok")
        _, headers = await rig.create()  # the probe
        assert headers["x-viberouter-deployment"] == "a/m1"
        assert rig.attempts()["a"] == 3
        assert circuit_gauge(rig, "a/m1") == 0
        assert (await statuses(rig))["smart"] == "available"
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_failed_probe_reopens(tmp_path: Path, ups: dict[str, FaultUpstream]) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra=CIRCUIT)
    try:
        rig.a.default = Step("status", status=503)
        await rig.create()
        await rig.create()
        await asyncio.sleep(0.45)
        _, headers = await rig.create()  # probe fails, b answers
        assert headers["x-viberouter-deployment"] == "b/m2"
        assert rig.attempts()["a"] == 3
        assert (await statuses(rig))["a/m1"] == "unavailable"
        await rig.create()
        assert rig.attempts()["a"] == 3  # open again: skipped
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_all_circuits_open_fails_fast_when_panic_is_off(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    rig = await start_rig(
        tmp_path,
        ups,
        retries=0,
        extra="[routing.circuit]\nfailures = 1\ncooldown_s = 30\npanic_threshold_percent = 100\n",
    )
    try:
        rig.a.default = rig.b.default = Step("status", status=500)
        with pytest.raises(openai.InternalServerError):
            await rig.create()
        assert rig.attempts() == {"a": 1, "b": 1, "c": 0}
        with pytest.raises(openai.InternalServerError) as exc:
            await rig.create()
        assert exc.value.status_code == 503
        assert exc.value.response.json()["error"] == "model_error"
        assert int(exc.value.response.headers["retry-after"]) >= 1
        assert rig.attempts() == {"a": 1, "b": 1, "c": 0}  # nothing sent upstream
        assert (await statuses(rig))["smart"] == "unavailable"
        await rig.assert_clean()
    finally:
        await rig.close()


PANIC = "[routing.circuit]\nfailures = 2\ncooldown_s = 30\n"  # default panic threshold: 50 %


async def test_all_circuits_open_are_still_tried(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra=PANIC)
    try:
        rig.a.default = rig.b.default = Step("status", status=500)
        for _ in range(2):  # both circuits open
            with pytest.raises(openai.InternalServerError):
                await rig.create()
        assert rig.attempts() == {"a": 2, "b": 2, "c": 0}
        assert (await statuses(rig))["smart"] == "unavailable"
        with pytest.raises(openai.InternalServerError) as exc:
            await rig.create()
        assert exc.value.status_code == 502  # tried and failed, not refused unseen
        assert rig.attempts() == {"a": 3, "b": 3, "c": 0}
        rig.b.default = Step("ok")  # b recovers: the very next request is served
        _, headers = await rig.create()
        assert headers["x-viberouter-deployment"] == "b/m2"
        assert (await statuses(rig))["b/m2"] == "available"
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_a_single_deployment_route_stays_usable_after_ten_failures(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra=PANIC)
    try:
        rig.a.default = Step("status", status=500)
        for i in range(10):
            with pytest.raises(openai.InternalServerError) as exc:
                await rig.create(model="a/m1")
            assert exc.value.status_code == 502
            assert rig.attempts()["a"] == i + 1  # every request reached it
        assert (await statuses(rig))["a/m1"] == "unavailable"
        rig.a.default = Step("ok")
        _, headers = await rig.create(model="a/m1")  # no 30 s dark period
        assert headers["x-viberouter-deployment"] == "a/m1"
        assert (await statuses(rig))["a/m1"] == "available"
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_one_failing_of_two_is_skipped(tmp_path: Path, ups: dict[str, FaultUpstream]) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra=PANIC)
    try:
        rig.a.default = Step("status", status=500)
        for _ in range(2):
            _, headers = await rig.create()
            assert headers["x-viberouter-deployment"] == "b/m2"
        for _ in range(3):  # a is open, one of two (50 %): skipped, b serves
            _, headers = await rig.create()
            assert headers["x-viberouter-deployment"] == "b/m2"
        assert rig.attempts() == {"a": 2, "b": 5, "c": 0}
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_request_errors_do_not_open_the_circuit(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    rig = await start_rig(tmp_path, ups, retries=0, extra="[routing.circuit]\nfailures = 1\n")
    try:
        rig.a.script(Step("status", status=400))
        _, headers = await rig.create()
        assert headers["x-viberouter-deployment"] == "b/m2"
        assert (await statuses(rig))["a/m1"] == "available"
    finally:
        await rig.close()


async def test_client_models_fallbacks(tmp_path: Path, ups: dict[str, FaultUpstream]) -> None:
    rig = await start_rig(tmp_path, ups)
    try:
        rig.a.default = Step("status", status=500)
        resp, headers = await rig.create(model="a/m1", extra_body={"models": ["c/m3"]})
        assert headers["x-viberouter-deployment"] == "c/m3"
        assert resp.model == "m3"
        assert rig.attempts() == {"a": 2, "b": 0, "c": 1}
        # a route's own deployments come first, then the client's fallback routes
        rig.b.default = Step("status", status=500)
        _, headers = await rig.create(model="smart", extra_body={"models": ["c/m3"]})
        assert headers["x-viberouter-deployment"] == "c/m3"
        assert rig.attempts() == {"a": 4, "b": 2, "c": 2}
        with pytest.raises(openai.BadRequestError) as exc:
            await rig.create(model="smart", extra_body={"models": ["nope/x"]})
        assert exc.value.response.json()["error"] == "invalid_model"
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_tiers_fall_back_in_rank_order(tmp_path: Path, ups: dict[str, FaultUpstream]) -> None:
    routes = (
        '[routes.smart]\nstrategy = "weighted"\ndeployments = [\n'
        '  { target = "c/m3", rank = 1 },\n  { target = "a/m1" },\n  { target = "b/m2" },\n]\n'
    )
    rig = await start_rig(tmp_path, ups, routes=routes, retries=0)
    try:
        rig.a.default = rig.b.default = Step("status", status=500)
        _, headers = await rig.create()
        assert headers["x-viberouter-deployment"] == "c/m3"
        assert rig.attempts() == {"a": 1, "b": 1, "c": 1}
    finally:
        await rig.close()


async def test_weighted_spreads_by_weight(tmp_path: Path, ups: dict[str, FaultUpstream]) -> None:
    routes = (
        '[routes.smart]\nstrategy = "weighted"\ndeployments = [\n'
        '  { target = "a/m1", weight = 3 },\n  { target = "b/m2", weight = 1 },\n]\n'
    )
    rig = await start_rig(tmp_path, ups, routes=routes)
    try:
        for _ in range(60):
            await rig.create()
        n = rig.attempts()
        assert n["a"] + n["b"] == 60
        assert n["a"] > n["b"] > 0
    finally:
        await rig.close()


async def test_least_in_flight_avoids_the_busy_deployment(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    routes = '[routes.smart]\nstrategy = "least_in_flight"\ndeployments = ["a/m1", "b/m2"]\n'
    rig = await start_rig(tmp_path, ups, routes=routes)
    try:
        slow = Step("slow_between", delay=0.2)
        rig.a.script(slow)
        rig.b.script(slow)
        raw = await rig.client.chat.completions.with_raw_response.create(
            model="smart", messages=HELLO, stream=True
        )
        busy = raw.headers["x-viberouter-deployment"]
        # the key allows one request at a time: a second key for the second request
        _, secret = await rig.router.state.accounts.create_key(rig.router.account_id, "two")
        other = openai.AsyncOpenAI(base_url=rig.router.base_url, api_key=secret, max_retries=0)
        raw2 = await other.chat.completions.with_raw_response.create(model="smart", messages=HELLO)
        assert raw2.headers["x-viberouter-deployment"] != busy
        async for _ in raw.parse():
            pass
        await other.close()
        await rig.assert_clean()
    finally:
        await rig.close()


async def test_lowest_latency_prefers_the_fast_deployment(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    routes = '[routes.smart]\nstrategy = "lowest_latency"\ndeployments = ["a/m1", "b/m2"]\n'
    rig = await start_rig(tmp_path, ups, routes=routes)
    try:
        rig.a.default = Step("slow_first", delay=0.2)
        await rig.create()
        await rig.create()  # both measured now (unmeasured deployments go first)
        assert rig.attempts() == {"a": 1, "b": 1, "c": 0}
        for _ in range(5):
            _, headers = await rig.create()
            assert headers["x-viberouter-deployment"] == "b/m2"
    finally:
        await rig.close()


async def test_fallback_is_priced_as_the_model_that_answered(tmp_path: Path, ups: Any) -> None:
    rig = await start_rig(
        tmp_path,
        ups,
        model_extra={
            "a": "pricing = { prompt_per_mtok = 0.0, completion_per_mtok = 0.0 }",
            "b": "pricing = { prompt_per_mtok = 1000000.0, completion_per_mtok = 1000000.0 }",
        },
    )
    try:
        rig.a.default = Step("status", status=500)
        _, headers = await rig.create()
        assert headers["x-viberouter-deployment"] == "b/m2"
        await rig.router.state.ledger.flush()
        rows = await rig.router.state.store.query_usage(key_id=rig.router.key_id)
        assert sum(r.cost_usd for r in rows) > 0
    finally:
        await rig.close()


async def test_the_error_examples_never_take_the_demo_model_dark(
    openai_client: openai.AsyncOpenAI,
) -> None:
    """The documented error examples (echo directives) run many times over: client
    errors never count, and the one-deployment demo route is never ejected."""
    for _ in range(10):
        with pytest.raises(openai.BadRequestError):
            await openai_client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "[[echo:status=400]] x"}]
            )
    models = {m.id: m for m in (await openai_client.models.list()).data}
    assert models["echo"].status == "available"  # type: ignore[attr-defined]
    for _ in range(12):  # more than routing.circuit.failures (5): the circuit opens
        with pytest.raises(openai.InternalServerError) as exc:
            await openai_client.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": "[[echo:status=500]] x"}]
            )
        assert exc.value.status_code == 502  # tried every time, never a blind 503
    reply = await openai_client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "hello again"}]
    )
    assert reply.choices[0].message.content
