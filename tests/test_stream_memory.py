"""What a held-open stream keeps in the router (docs/performance.md, memory per held
stream): the response's header multidict is dropped once its block is serialized,
and every header still reaches the client."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from router_core.streaming import ClientStream
from tests.fault_upstream import FaultUpstream, Rig, Step, fakes, start_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for ups in fakes():
        r = await start_rig(tmp_path, ups)
        try:
            yield r
        finally:
            await r.close()


def _held() -> list[ClientStream]:
    return [o for o in gc.get_objects() if isinstance(o, ClientStream)]


async def test_a_held_stream_keeps_no_header_multidict(rig: Rig) -> None:
    up: FaultUpstream = rig.a
    up.script(Step("slow_between", delay=1.0))
    body = {"model": "smart", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    auth = {"Authorization": f"Bearer {rig.router.key}"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(rig.router.base_url + "/chat/completions", json=body, headers=auth) as r,
    ):
        assert r.status == 200
        first = await r.content.readuntil(b"\n\n")
        assert first.startswith(b"data: ")
        # While the upstream is silent the stream is held open: its response object
        # lives, without the headers it has already serialized.
        held = _held()
        assert len(held) == 1 and len(held[0].headers) == 0
        # ...which all went out with the first event.
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["X-VibeRouter-Deployment"] == "a/m1"
        assert r.headers["X-Request-ID"]
        assert r.headers["X-VibeRouter-Provider"] == "a"
        rest = await r.content.read()
    assert rest.rstrip().endswith(b"data: [DONE]")
    await rig.assert_clean()
