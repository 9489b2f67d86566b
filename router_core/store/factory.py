"""Config's ``state.backend`` -> an opened Store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router_core.store.base import StoreBackend
from router_core.store.responses_base import ResponseStore
from router_core.store.responses_sqlite import SqliteResponseStore
from router_core.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from router_core.settings import StateSettings

BACKENDS = ("embedded", "redis")


async def open_store(
    backend: str, *, sqlite_path: str, redis_url: str, state: StateSettings | None = None
) -> StoreBackend:
    """Build and open the store for ``backend`` ("embedded" or "redis"); the caller closes it."""
    store = make_store(backend, sqlite_path=sqlite_path, redis_url=redis_url, state=state)
    await store.open()
    return store


def make_store(
    backend: str, *, sqlite_path: str, redis_url: str, state: StateSettings | None = None
) -> StoreBackend:
    """The store for ``backend`` ("embedded" or "redis"), not yet opened; ``state``
    supplies the Redis connection settings (cluster, timeouts, pool)."""
    store: StoreBackend
    if backend == "embedded":
        store = SqliteStore(sqlite_path)
    elif backend == "redis":
        from router_core.redis_link import redis_options  # redis-py only when used
        from router_core.store.redis import RedisStore

        store = RedisStore(redis_url, options=redis_options(redis_url, state))
    else:
        raise ValueError(f"unknown state backend {backend!r}; expected one of {BACKENDS}")
    return store


def responses_sqlite_path(state_path: str, configured: str = "") -> str:
    """The stored-responses file: ``configured``, else beside the state file
    (``viberouter.db`` -> ``viberouter-responses.db``); in-memory stays in memory."""
    if configured:
        return configured
    if state_path == ":memory:":
        return state_path
    stem, dot, ext = state_path.rpartition(".")
    return f"{stem}-responses.{ext}" if dot and "/" not in ext else f"{state_path}-responses"


def make_response_store(
    backend: str,
    *,
    sqlite_path: str,
    redis_url: str,
    configured_path: str = "",
    state: StateSettings | None = None,
) -> ResponseStore:
    """The stored-responses store for ``backend``, not yet opened (the hook for
    ``/v1/responses``; it lives beside the Store, not inside it)."""
    if backend == "embedded":
        return SqliteResponseStore(responses_sqlite_path(sqlite_path, configured_path))
    if backend == "redis":
        from router_core.redis_link import redis_options
        from router_core.store.responses_redis import RedisResponseStore

        return RedisResponseStore(redis_url, options=redis_options(redis_url, state))
    raise ValueError(f"unknown state backend {backend!r}; expected one of {BACKENDS}")
