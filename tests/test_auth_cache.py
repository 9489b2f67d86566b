"""The authenticator's key cache: a revocation is never lost to a concurrent load."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from router_core.errors import InvalidApiKey
from tests.router_harness import router_settings, start_router


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
        with pytest.raises(InvalidApiKey):
            await auth.authenticate(f"Bearer {router.key}")  # but it was not cached
    finally:
        await router.stop()
