"""Router processes on a real Redis, for the Redis fault and scale tests: their
config, keys made in the shared store, one timed request, a client session for bursts."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from router_core.accounts import AccountService
from router_core.limits.base import RateLimits
from router_core.settings import StateSettings
from router_core.store.factory import open_store
from tests.router_process import RouterProcess

CONFIG = """
[server]
host = "127.0.0.1"

[state]
backend = "redis"
redis_url = "{url}"
redis_cluster = {cluster}
redis_pool_size = {pool}

[auth]
cache_ttl_s = {ttl}
bootstrap_demo_key = false

[limits]
on_backend_error = "{mode}"
lease_ttl_s = {lease}

[logging]
format = "json"
access_log = false

[upstream]
first_byte_timeout_s = 60
total_timeout_s = 120

[providers.echo]
plugin = "echo"

[routes.echo]
deployments = ["echo/echo-1"]
"""

HI = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Answer:
    status: int
    code: str
    headers: dict[str, str]
    seconds: float


def write_config(
    tmp: Path,
    url: str,
    *,
    mode: str = "fail_closed",
    ttl: float = 1.0,
    lease: float = 20.0,
    cluster: bool = False,
    pool: int = 128,
) -> Path:
    path = tmp / f"router-{secrets.token_hex(3)}.toml"
    flag = "true" if cluster else "false"
    path.write_text(
        CONFIG.format(url=url, mode=mode, ttl=ttl, lease=lease, cluster=flag, pool=pool)
    )
    return path


async def make_keys(url: str, count: int, cluster: bool = False, **limits: Any) -> list[str]:
    """``count`` keys, each in its own account, with the given limits."""
    state = StateSettings(backend="redis", redis_url=url, redis_cluster=cluster)
    store = await open_store("redis", sqlite_path="", redis_url=url, state=state)
    try:
        svc = AccountService(store)
        secrets_out = []
        for i in range(count):
            account = await svc.create_account(f"a{i}")
            _, secret = await svc.create_key(account.id, "k", limits=RateLimits(**limits))
            secrets_out.append(secret)
        return secrets_out
    finally:
        await store.close()


async def ask(
    session: aiohttp.ClientSession, router: RouterProcess, key: str, body: dict[str, Any] = HI
) -> Answer:
    t0 = time.monotonic()
    async with session.post(
        router.base_url + "/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    ) as resp:
        data = await resp.json(content_type=None)
        code = data.get("error", "") if isinstance(data, dict) else ""
        return Answer(resp.status, str(code), dict(resp.headers), time.monotonic() - t0)


@contextlib.asynccontextmanager
async def burst_session(total_s: float) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that can hold a thousand requests open at once."""
    connector = aiohttp.TCPConnector(limit=1500)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=total_s)
    ) as s:
        yield s
