"""Every upstream failure class through the real router: attempts counted in the fakes,
the deployment that answered (headers), what the client sees (openai SDK), no leaks.

Route ``smart`` is ``a/m1`` then ``b/m2``; ``upstream.retries = 1`` (two attempts per
deployment) unless a test says otherwise.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import structlog
from aiohttp import web

from tests.fault_upstream import FaultUpstream, Rig, Step, fakes, model_extras, start_rig
from tests.router_harness import router_settings, serve_app, start_router


@pytest.fixture
async def ups() -> AsyncIterator[dict[str, FaultUpstream]]:
    async for started in fakes():
        yield started


@pytest.fixture
async def rig(tmp_path: Path, ups: dict[str, FaultUpstream]) -> AsyncIterator[Rig]:
    r = await start_rig(
        tmp_path, ups, model_extra=model_extras(a={"first_token_s": 0.3, "idle_s": 0.3})
    )
    try:
        yield r
    finally:
        await r.close()


def served_by(headers: dict[str, str], deployment: str) -> None:
    assert headers["x-viberouter-deployment"] == deployment
    assert headers["x-viberouter-provider"] == deployment.split("/")[0]


async def test_ok_first_deployment(rig: Rig) -> None:
    resp, headers = await rig.create()
    served_by(headers, "a/m1")
    assert resp.model == "m1"
    assert resp.choices[0].message.content == "served by a"
    assert rig.attempts() == {"a": 1, "b": 0, "c": 0}
    await rig.assert_clean()


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_retried_then_next_deployment(rig: Rig, status: int) -> None:
    rig.a.script(Step("status", status=status), Step("status", status=status))
    resp, headers = await rig.create()
    served_by(headers, "b/m2")
    assert resp.model == "m2"  # the model that answered
    assert resp.choices[0].message.content == "served by b"
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_5xx_once_is_retried_on_the_same_deployment(rig: Rig) -> None:
    rig.a.script(Step("status", status=500))
    _, headers = await rig.create()
    served_by(headers, "a/m1")
    assert rig.attempts() == {"a": 2, "b": 0, "c": 0}
    await rig.assert_clean()


async def test_429_retry_after_is_honoured(rig: Rig) -> None:
    rig.a.script(Step("status", status=429, retry_after="0.3"))
    _, headers = await rig.create()
    served_by(headers, "a/m1")
    assert rig.attempts()["a"] == 2
    first, second = rig.a.received
    assert second.at - first.at >= 0.3  # waited the upstream's Retry-After
    await rig.assert_clean()


async def test_429_retry_after_over_the_cap_moves_on(rig: Rig) -> None:
    rig.a.script(Step("status", status=429, retry_after="60"))
    _, headers = await rig.create()
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 1, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_hang_is_a_first_token_timeout_then_fallback(rig: Rig) -> None:
    rig.a.script(Step("hang"), Step("hang"))
    _, headers = await rig.create()
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()  # the hung upstream requests were closed


async def test_reset_before_headers(rig: Rig) -> None:
    rig.a.script(Step("reset"), Step("reset"))
    _, headers = await rig.create()
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_malformed_json_falls_over(rig: Rig) -> None:
    rig.a.script(Step("malformed"), Step("malformed"))
    resp, headers = await rig.create()
    served_by(headers, "b/m2")
    assert resp.choices[0].message.content == "served by b"
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_slow_first_token_json(rig: Rig) -> None:
    rig.a.script(Step("slow_first", delay=3.0), Step("slow_first", delay=3.0))
    _, headers = await rig.create()
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_stream_ok(rig: Rig) -> None:
    text, headers, err = await rig.stream()
    assert err is None
    assert text == "served by a"
    served_by(headers, "a/m1")
    await rig.assert_clean()


@pytest.mark.parametrize(
    "step",
    [
        Step("status", status=503),
        Step("reset"),
        Step("reset_after_headers"),
        Step("malformed"),
        Step("hang"),
        Step("slow_first", delay=3.0),
    ],
    ids=lambda s: s.kind,
)
async def test_stream_failure_before_first_chunk_falls_over(rig: Rig, step: Step) -> None:
    rig.a.script(step, step)
    text, headers, err = await rig.stream()
    assert err is None
    assert text == "served by b"
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 2, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_reset_after_first_chunk_is_one_error_event(rig: Rig) -> None:
    rig.a.script(Step("reset_after_first"))
    text, headers, err = await rig.stream()
    served_by(headers, "a/m1")
    assert text == "served"  # the first word arrived, then the error
    assert isinstance(err, openai.APIError)
    assert err.body == "model_error"
    assert rig.attempts() == {"a": 1, "b": 0, "c": 0}  # never a silent restart
    await rig.assert_clean()


async def test_slow_between_chunks_is_an_idle_timeout_event(rig: Rig) -> None:
    rig.a.script(Step("slow_between", delay=2.0))
    text, headers, err = await rig.stream()
    served_by(headers, "a/m1")
    assert text == ""  # only the role chunk came before the silence
    assert isinstance(err, openai.APIError)
    assert err.body == "timeout"  # the error event's code
    assert rig.attempts() == {"a": 1, "b": 0, "c": 0}
    await rig.assert_clean()  # the silent upstream was closed


async def test_a_flowing_stream_is_bounded_by_the_idle_sweep(rig: Rig) -> None:
    """Once the first chunk came, the process's idle sweep bounds the stream's
    silences (aiohttp's per-read socket timer is off): it holds the stream while it
    flows, ends the silent one with the same timeout event, and then lets it go."""
    rig.a.script(Step("slow_between", delay=2.0))
    sweep = rig.router.state.upstream.idle
    raw = await rig.client.chat.completions.with_raw_response.create(
        model="smart", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    held = len(sweep)  # the role chunk came; the upstream is now silent
    err: BaseException | None = None
    try:
        async for _ in raw.parse():
            pass
    except openai.APIError as exc:
        err = exc
    assert held == 1
    assert isinstance(err, openai.APIError) and err.body == "timeout"
    assert len(sweep) == 0
    await rig.assert_clean()


async def test_slow_between_within_idle_timeout_is_fine(rig: Rig) -> None:
    rig.a.script(Step("slow_between", delay=0.05))
    text, _, err = await rig.stream()
    assert err is None
    assert text == "served by a"
    await rig.assert_clean()


async def test_every_deployment_failing_returns_the_last_error(rig: Rig) -> None:
    rig.a.default = rig.b.default = Step("status", status=500)
    with pytest.raises(openai.InternalServerError) as exc:
        await rig.create()
    assert exc.value.status_code == 502
    assert exc.value.response.json()["error"] == "model_error"
    assert rig.attempts() == {"a": 2, "b": 2, "c": 0}
    await rig.assert_clean()


async def test_every_deployment_timing_out_is_timeout(rig: Rig) -> None:
    rig.a.default = Step("hang")
    rig.b.default = Step("status", status=504)
    with pytest.raises(openai.InternalServerError) as exc:
        await rig.create()
    assert exc.value.status_code == 504
    assert exc.value.response.json()["error"] == "timeout"
    await rig.assert_clean()


async def test_non_retryable_upstream_error_goes_to_next_without_retry(rig: Rig) -> None:
    rig.a.script(Step("status", status=401))
    _, headers = await rig.create()
    served_by(headers, "b/m2")
    assert rig.attempts() == {"a": 1, "b": 1, "c": 0}
    await rig.assert_clean()


async def test_attempts_are_in_the_request_log(rig: Rig) -> None:
    rig.a.script(Step("status", status=500), Step("status", status=503))
    with structlog.testing.capture_logs() as logs:
        await rig.create()
    line = next(e for e in logs if e["event"] == "request" and e.get("model") == "smart")
    assert line["attempts"] == "a/m1:model_error,a/m1:model_error,b/m2:ok"
    assert line["provider"] == "b"
    assert line["served_model"] == "m2"


async def test_metrics_count_errors_retries_fallbacks(rig: Rig) -> None:
    rig.a.script(Step("status", status=500), Step("status", status=500))
    await rig.create()
    reg = rig.router.state.metrics.registry
    labels = {"provider": "a", "deployment": "a/m1"}
    assert reg.get_sample_value("viberouter_retries_total", labels) == 1
    assert (
        reg.get_sample_value("viberouter_upstream_errors_total", {**labels, "code": "model_error"})
        == 2
    )
    assert reg.get_sample_value("viberouter_fallbacks_total", {"model": "smart"}) == 1


async def test_attempt_budget_bounds_retries_and_fallbacks(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    for up in ups.values():
        up.default = Step("status", status=500)
    r = await start_rig(
        tmp_path,
        ups,
        routes='[routes.smart]\ndeployments = ["a/m1", "b/m2", "c/m3"]\n',
        extra="[routing]\nmax_attempts = 3\n",
    )
    try:
        with pytest.raises(openai.InternalServerError):
            await r.create()
        assert r.attempts() == {"a": 2, "b": 1, "c": 0}
        await r.assert_clean()
    finally:
        await r.close()


async def test_total_time_budget_ends_the_request(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    ups["a"].default = Step("hang")
    r = await start_rig(tmp_path, ups, total=0.5)
    try:
        with pytest.raises(openai.InternalServerError) as exc:
            await r.create()
        assert exc.value.response.json()["error"] == "timeout"
        assert r.attempts()["b"] == 0  # the budget ran out on a
        await r.assert_clean()
    finally:
        await r.close()


async def test_first_token_after_commit_is_an_error_event(
    tmp_path: Path, ups: dict[str, FaultUpstream]
) -> None:
    # keep-alives every 0.2 s commit the stream before a's 0.6 s first-token timeout
    ups["a"].script(Step("slow_first", delay=3.0))
    r = await start_rig(
        tmp_path, ups, keepalive=0.2, model_extra=model_extras(a={"first_token_s": 0.6})
    )
    try:
        text, headers, err = await r.stream()
        served_by(headers, "a/m1")
        assert text == ""
        assert isinstance(err, openai.APIError)
        assert err.body == "timeout"
        assert r.attempts() == {"a": 1, "b": 0, "c": 0}
        await r.assert_clean()
    finally:
        await r.close()


@pytest.mark.parametrize("value", ["inf", "1e306"])
async def test_absurd_upstream_retry_after_still_gives_json(
    tmp_path: Path, ups: Any, value: str
) -> None:
    rig = await start_rig(tmp_path, ups, routes='[routes.solo]\ndeployments = ["a/m1"]\n')
    try:
        rig.a.default = Step("status", status=429, retry_after=value)
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                rig.router.base_url + "/chat/completions",
                headers={"Authorization": f"Bearer {rig.router.key}"},
                json={"model": "solo", "messages": [{"role": "user", "content": "hi"}]},
            ) as r,
        ):
            assert r.status == 429
            assert (await r.json())["error"] == "rate_limit_exceeded"
    finally:
        await rig.close()


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    },
}


OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_an_overload_right_after_message_start_still_fails_over(tmp_path: Path) -> None:
    async def upstream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(f"event: message_start\ndata: {json.dumps(MESSAGE_START)}\n\n".encode())
        await asyncio.sleep(0.1)
        await resp.write(f"event: error\ndata: {json.dumps(OVERLOADED)}\n\n".encode())
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", upstream)
    runner, port = await serve_app(app)
    extra = f"""
[providers.anth]
plugin = "anthropic"
settings = {{ base_url = "http://127.0.0.1:{port}", api_key = "k" }}
[providers.anth.models."claude-x"]
[routes.m]
deployments = ["anth/claude-x", "echo/echo-1"]
"""
    router = await start_router(router_settings(tmp_path, extra_toml=extra, retries=0))
    try:
        client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
        raw = await client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        assert raw.headers["x-viberouter-deployment"] == "echo/echo-1"
        text = ""
        async for chunk in raw.parse():
            for c in chunk.choices:
                text += c.delta.content or ""
        assert text == "hi"
    finally:
        await router.stop()
        await runner.cleanup()
