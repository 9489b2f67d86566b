"""Regressions for defects found in review: each test failed before its fix."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from router_core.plugin_api import retry_after_seconds
from router_core.store.base import UsageEvent
from tests.fault_upstream import Step, fakes, start_rig
from tests.router_harness import router_settings, start_router
from tests.services import free_port


@pytest.fixture
async def ups() -> Any:
    async for started in fakes():
        yield started


async def test_redirects_are_not_followed_with_provider_keys(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    async def thief(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"ok": True})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://127.0.0.1:{thief_port}/steal")

    runners = []
    ports = []
    for handler in (thief, redirect):
        app = web.Application()
        app.router.add_route("*", "/{p:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        ports.append(port)
    thief_port, redirect_port = ports
    toml = f"""
[providers.anth]
plugin = "anthropic"
settings = {{ base_url = "http://127.0.0.1:{redirect_port}", api_key = "sk-ant-SECRET" }}
[providers.anth.models."claude-x"]
[routes.c]
deployments = ["anth/claude-x"]
"""
    router = await start_router(router_settings(tmp_path, extra_toml=toml, retries=0))
    try:
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                router.base_url + "/chat/completions",
                headers={"Authorization": f"Bearer {router.key}"},
                json={"model": "c", "messages": [{"role": "user", "content": "hi"}]},
            ) as resp,
        ):
            assert resp.status >= 400
            assert (await resp.json())["error"] in {"model_error", "invalid_request"}
        assert seen == []
    finally:
        await router.stop()
        for runner in runners:
            await runner.cleanup()


@pytest.mark.parametrize("value", ["inf", "1e306", "nan", "-5"])
def test_retry_after_is_finite_and_bounded(value: str) -> None:
    parsed = retry_after_seconds({"retry-after": value})
    assert parsed is None or 0.0 <= parsed <= 86_400.0


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


async def test_middle_out_trims_by_message_count(tmp_path: Path) -> None:
    router = await start_router(
        router_settings(tmp_path, extra_toml="\n[guards]\nmax_messages = 4\n")
    )
    try:
        msgs: list[dict[str, str]] = [{"role": "system", "content": "be nice"}]
        for i in range(5):
            msgs += [
                {"role": "user", "content": f"q{i}"},
                {"role": "assistant", "content": f"a{i}"},
            ]
        msgs.append({"role": "user", "content": "last"})
        headers = {"Authorization": f"Bearer {router.key}"}
        async with aiohttp.ClientSession() as s:
            async with s.post(
                router.base_url + "/chat/completions",
                headers=headers,
                json={"model": "echo", "messages": msgs, "transforms": ["middle-out"]},
            ) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["choices"][0]["message"]["content"] == "last"
            async with s.post(
                router.base_url + "/chat/completions",
                headers=headers,
                json={"model": "echo", "messages": msgs},
            ) as resp:
                assert resp.status == 400  # without the opt-in the limit still holds
    finally:
        await router.stop()


class _FlakyTouchStore:
    """A store whose usage write works and whose key touch fails once."""

    def __init__(self) -> None:
        self.recorded: list[UsageEvent] = []
        self.touch_failures = 1

    async def record_usage(self, events: list[UsageEvent]) -> None:
        self.recorded.extend(events)

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        if self.touch_failures:
            self.touch_failures -= 1
            raise OSError("store down")


async def test_ledger_never_writes_a_batch_twice() -> None:
    from router_core.ledger import UsageLedger

    store = _FlakyTouchStore()
    ledger = UsageLedger(store)  # type: ignore[arg-type]
    ledger.record(UsageEvent(1.0, "acct", "key", "m", 1, 2, 0.0))
    await ledger.flush()  # usage written, touch failed
    await ledger.flush()  # touch retried
    assert len(store.recorded) == 1


async def test_revocation_during_a_cache_load_is_not_lost(tmp_path: Path) -> None:
    router = await start_router(router_settings(tmp_path, ttl=60))
    try:
        auth = router.state.auth
        store = router.state.store
        real_get = store.get_key_by_hash
        gate = asyncio.Event()

        async def slow_get(h: str) -> Any:
            key = await real_get(h)
            await gate.wait()
            return key

        store.get_key_by_hash = slow_get  # type: ignore[method-assign]
        task = asyncio.create_task(auth.authenticate(f"Bearer {router.key}"))
        await asyncio.sleep(0.05)
        store.get_key_by_hash = real_get  # type: ignore[method-assign]
        await router.state.accounts.revoke_key(router.key_id)
        gate.set()
        await task  # loaded before the revocation: this request passes
        from router_core.errors import InvalidApiKey

        with pytest.raises(InvalidApiKey):
            await auth.authenticate(f"Bearer {router.key}")  # but it was not cached
    finally:
        await router.stop()


async def test_a_plugin_bug_during_a_probe_does_not_wedge_the_circuit() -> None:
    import msgspec
    from prometheus_client import CollectorRegistry
    from viberouter_echo.provider import EchoProvider

    from router_core.api.chat import ChatRequest
    from router_core.catalog import Target
    from router_core.dispatch import CallLog, Dispatcher
    from router_core.metrics import Metrics
    from router_core.plugin_api import Deployment
    from router_core.settings import CircuitSettings, RoutingSettings, UpstreamSettings
    from router_core.upstream import UpstreamClient

    class Buggy(EchoProvider):
        def parse_response(self, request: Any, deployment: Any, body: bytes) -> Any:
            raise KeyError("plugin bug")

    upstream = UpstreamClient(UpstreamSettings())
    await upstream.start()
    try:
        routing = RoutingSettings(circuit=CircuitSettings(failures=1, cooldown_s=0.0))
        d = Dispatcher(upstream, UpstreamSettings(), Metrics(CollectorRegistry()), routing=routing)
        plugin = Buggy()
        card = plugin.models()[0]
        dep = Deployment(id="echo/echo-1", provider="echo", model=card.id, card=card)
        breaker = d.breakers.get(dep.id)
        breaker.failure()  # open; a zero cool-down makes the next request the probe
        req = msgspec.json.decode(
            b'{"model":"x","messages":[{"role":"user","content":"hi"}]}', type=ChatRequest
        )
        with pytest.raises(KeyError):
            await d.complete([Target(dep, plugin)], req, msgspec.json.encode(req), CallLog())
        assert breaker.acquire()  # another probe may go: the failed one was abandoned
    finally:
        await upstream.close()
