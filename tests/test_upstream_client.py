"""The shared upstream client: provider keys never follow a redirect to another host;
an in-process body's reads are bounded slice by slice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.router_harness import post_chat, router_settings, serve_app, start_router


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
        runner, port = await serve_app(app)
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
        resp = await post_chat(
            router, {"model": "c", "messages": [{"role": "user", "content": "hi"}]}
        )
        assert resp.status >= 400
        assert resp.json()["error"] in {"model_error", "invalid_request"}
        assert seen == []
    finally:
        await router.stop()
        for runner in runners:
            await runner.cleanup()


async def test_an_in_process_body_is_bounded_per_slice_empty_slices_included() -> None:
    from router_core.errors import UpstreamTimeout
    from router_core.upstream import UpstreamResponse

    async def heartbeats(pauses: int) -> AsyncIterator[bytes]:
        for _ in range(pauses):
            await asyncio.sleep(0.06)
            yield b""  # a heartbeat: not the end, and it restarts the idle bound
        yield b"data"

    # four 0.06 s pauses, each under the 0.15 s idle bound, 0.24 s in all
    resp = UpstreamResponse(200, {}, heartbeats(4), None, 0.15, 1 << 20)
    assert await resp.read_chunk() == b"data"
    assert await resp.read_chunk() == b""  # the end

    async def silent() -> AsyncIterator[bytes]:
        await asyncio.sleep(1.0)
        yield b"late"

    resp = UpstreamResponse(200, {}, silent(), None, 0.15, 1 << 20)
    with pytest.raises(UpstreamTimeout):
        await resp.read_chunk()
