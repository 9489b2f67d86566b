"""Model discovery against a fake OpenAI-compatible server that changes its model list:
`discover = ["*"]` publishes what it lists, globs filter, a new model is served after
the refresh, a removed one is 400 invalid_model, and a failing listing keeps the list."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import openai

from router_core.catalog import Catalog
from router_core.discovery import load_providers
from router_core.settings import parse_settings
from tests import plugin_fakes
from tests.responses_world import ServerFactory
from tests.router_harness import router_settings, start_router

fake_openai = plugin_fakes.load("openai", "fake_openai")


def provider(base: str, discover: str = '["*"]', interval: float = 1.0) -> str:
    return f"""
[providers.local]
plugin = "openai"
settings = {{ base_url = "{base}", api_key = "sk-fake" }}
discover = {discover}
discover_interval_s = {interval}
"""


async def listed_ids(client: openai.AsyncOpenAI) -> set[str]:
    return {m.id for m in (await client.models.list()).data}


async def wait_until(check: object) -> None:
    """Until ``check()`` is true (the refresh interval is 1 s), at most 10 s."""
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("not refreshed in time")


async def test_discovered_models_follow_the_upstream(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    config = fake_openai.FakeOpenAIConfig(models=["llama-3.1-8b", "qwen2.5-7b", "mistral-7b"])
    server = await aiohttp_server(fake_openai.make_fake_openai(config))
    base = str(server.make_url("/v1"))
    router = await start_router(router_settings(tmp_path, extra_toml=provider(base)))
    client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
    try:
        ids = await listed_ids(client)
        assert {"local/llama-3.1-8b", "local/qwen2.5-7b", "local/mistral-7b"} <= ids
        assert "local/gpt-4o" not in ids  # the plugin's built-in catalog is not published
        answer = await client.chat.completions.create(
            model="local/qwen2.5-7b", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "Hello from the fake upstream."
        sent = server.app[fake_openai.FAKE_OPENAI].requests[-1]
        assert sent["model"] == "qwen2.5-7b"

        config.models = ["llama-3.1-8b", "phi-4"]  # one added, two removed
        await wait_until(lambda: _has(client, "local/phi-4"))
        ids = await listed_ids(client)
        assert "local/qwen2.5-7b" not in ids and "local/llama-3.1-8b" in ids
        try:
            await client.chat.completions.create(
                model="local/qwen2.5-7b", messages=[{"role": "user", "content": "hi"}]
            )
            raise AssertionError("a model the upstream no longer lists was served")
        except openai.BadRequestError as exc:
            assert exc.status_code == 400
        try:
            await client.chat.completions.create(
                model="local/never-listed", messages=[{"role": "user", "content": "hi"}]
            )
            raise AssertionError("an unknown model was served")
        except openai.BadRequestError:
            pass

        # A failing listing keeps what was listed before.
        config.models_status = 500
        before = router.state.catalog
        await asyncio.sleep(2.5)
        assert router.state.catalog is before
        assert "local/phi-4" in await listed_ids(client)
    finally:
        await client.close()
        await router.stop()


async def _has(client: openai.AsyncOpenAI, model: str) -> bool:
    return model in await listed_ids(client)


async def test_globs_and_route_models(tmp_path: Path, aiohttp_server: ServerFactory) -> None:
    config = fake_openai.FakeOpenAIConfig(models=["llama-3.1-8b", "llama-3.1-70b", "qwen2.5-7b"])
    server = await aiohttp_server(fake_openai.make_fake_openai(config))
    base = str(server.make_url("/v1"))
    extra = provider(base, '["llama-*"]') + '\n[routes.big]\ndeployments = ["local/qwen2.5-7b"]\n'
    router = await start_router(router_settings(tmp_path, extra_toml=extra))
    client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
    try:
        ids = await listed_ids(client)
        assert {"local/llama-3.1-8b", "local/llama-3.1-70b", "big"} <= ids
        # qwen is outside the glob, but a route names it, so it is a deployment.
        answer = await client.chat.completions.create(
            model="big", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content
    finally:
        await client.close()
        await router.stop()


def test_check_config_needs_no_listing() -> None:
    # Offline tools build the catalog without listing: routes' models still exist.
    text = provider("http://127.0.0.1:9/v1") + '[routes.r]\ndeployments = ["local/m"]\n'
    settings = parse_settings(text, {})
    catalog = Catalog(settings, load_providers(settings))
    assert catalog.resolve("r") is not None and catalog.resolve("local/gpt-4o") is None
