"""Start the real router on a loopback port inside the test's event loop."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from router_core.app import build_state, make_app
from router_core.settings import Settings, parse_settings
from router_core.state import RouterState
from tests.services import free_port

BASE_CONFIG = """
[server]
host = "127.0.0.1"
sse_keepalive_s = {keepalive}

[state]
backend = "{backend}"
sqlite_path = "{db}"
redis_url = "{redis_url}"

[auth]
cache_ttl_s = {ttl}
bootstrap_demo_key = false
{admin}

[logging]
format = "json"

[upstream]
first_byte_timeout_s = {first_byte}
idle_timeout_s = {idle}
total_timeout_s = {total}
retries = {retries}
retry_backoff_s = 0.01

[providers.echo]
plugin = "echo"
settings = {{ delay_ms = {delay} }}

[routes.echo]
deployments = ["echo/echo-1"]
aliases = ["echo-latest"]
"""


@dataclass
class RunningRouter:
    url: str
    state: RouterState
    runner: web.AppRunner
    key: str = ""
    account_id: str = ""
    key_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    async def stop(self) -> None:
        await self.runner.cleanup()


def router_settings(
    tmp: Path,
    *,
    backend: str = "embedded",
    redis_url: str = "redis://127.0.0.1:1/0",
    extra_toml: str = "",
    delay_ms: float = 0,
    keepalive: float = 15.0,
    ttl: float = 5.0,
    first_byte: float = 10.0,
    idle: float = 10.0,
    total: float = 30.0,
    retries: int = 1,
    admin_token: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    text = BASE_CONFIG.format(
        backend=backend,
        db=(tmp / "router.db").as_posix(),
        redis_url=redis_url,
        ttl=ttl,
        admin=f'admin_token = "{admin_token}"' if admin_token else "",
        first_byte=first_byte,
        idle=idle,
        total=total,
        retries=retries,
        delay=delay_ms,
        keepalive=keepalive,
    )
    return parse_settings(text + extra_toml, environ or {}, "test-config")


async def serve_app(app: web.Application, **runner_args: Any) -> tuple[web.AppRunner, int]:
    """``app`` (the router, or a fake upstream written in the test) on a free loopback
    port; the caller cleans the runner up."""
    runner = web.AppRunner(app, **runner_args)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def start_router(
    settings: Settings, *, create_key: bool = True, **key_kwargs: object
) -> RunningRouter:
    state = build_state(settings)
    app = make_app(settings, state)
    runner, port = await serve_app(app, handler_cancellation=True, access_log=None)
    router = RunningRouter(f"http://127.0.0.1:{port}", state, runner)
    if create_key:
        account = await state.accounts.create_account("test")
        key, secret = await state.accounts.create_key(account.id, "test", **key_kwargs)  # type: ignore[arg-type]
        router.key, router.account_id, router.key_id = secret, account.id, key.id
    return router


@dataclass
class Reply:
    """One raw answer of the router: status, headers and body bytes."""

    status: int
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def post_chat(
    router: RunningRouter,
    body: bytes | dict[str, Any],
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """POST /v1/chat/completions with aiohttp (bytes are sent as they are, dicts as JSON)."""
    h = {"Authorization": f"Bearer {router.key if key is None else key}", **(headers or {})}
    kw: dict[str, Any] = {"data": body} if isinstance(body, bytes) else {"json": body}
    async with (
        aiohttp.ClientSession() as s,
        s.post(router.base_url + "/chat/completions", headers=h, **kw) as r,
    ):
        return Reply(r.status, CIMultiDict(r.headers), await r.read())
