"""The shared upstream client: provider keys never follow a redirect to another host."""

from __future__ import annotations

from pathlib import Path

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
