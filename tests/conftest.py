from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import openai

    from tests.router_harness import RunningRouter

from tests.services import RedisServer, redis_server


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session (flush between tests with `redis_url`)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def redis_url(redis_proc: RedisServer) -> AsyncIterator[str]:
    """A clean Redis database for one test."""
    import redis.asyncio as aioredis

    redis_proc.start()
    client = aioredis.Redis.from_url(redis_proc.url)
    await client.flushall()
    await client.aclose()
    yield redis_proc.url


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).parent / "data"


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[RunningRouter]:
    """The real router (echo provider, embedded state) on a loopback port, with a key."""
    from tests.router_harness import router_settings, start_router

    r = await start_router(router_settings(tmp_path))
    try:
        yield r
    finally:
        await r.stop()


@pytest.fixture
def openai_client(router: RunningRouter) -> openai.AsyncOpenAI:
    import openai

    return openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
