"""Config's ``state.backend`` -> an opened Store."""

from __future__ import annotations

from router_core.store.base import Store
from router_core.store.sqlite import SqliteStore

BACKENDS = ("embedded", "redis")


async def open_store(backend: str, *, sqlite_path: str, redis_url: str) -> Store:
    """Build and open the store for ``backend`` ("embedded" or "redis"); the caller closes it."""
    store = make_store(backend, sqlite_path=sqlite_path, redis_url=redis_url)
    await store.open()
    return store


def make_store(backend: str, *, sqlite_path: str, redis_url: str) -> Store:
    """The store for ``backend`` ("embedded" or "redis"), not yet opened."""
    store: Store
    if backend == "embedded":
        store = SqliteStore(sqlite_path)
    elif backend == "redis":
        from router_core.store.redis import RedisStore  # redis-py only when used

        store = RedisStore(redis_url)
    else:
        raise ValueError(f"unknown state backend {backend!r}; expected one of {BACKENDS}")
    return store
