"""A JSON answer's body may come whole with the upstream's headers (taken from the
buffer at once) or after them (read as it comes): the same answer, and the same
502 for a body over ``[upstream] max_event_bytes``, either way. The upstream is a
raw socket server writing exact bytes in chosen writes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest

from tests.router_harness import post_chat, router_settings, start_router
from tests.test_stream_first_events import RawUpstream

CAP = 2048


def _answer(text: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-j",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "j-1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        }
    ).encode()


def _writes(body: bytes, split: bool) -> list[tuple[bytes, float]]:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
    )
    if split:
        return [(head + body[:10], 0.05), (body[10:], 0.0)]
    return [(head + body, 0.0)]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("size", ["small", "over the cap"])
async def test_whole_or_split_bodies_answer_the_same(
    tmp_path: Path, split: bool, size: str
) -> None:
    text = "ok" if size == "small" else "x" * (CAP + 100)
    up = RawUpstream(_writes(_answer(text), split))
    server = await asyncio.start_server(up._serve, "127.0.0.1", 0)
    up.port = server.sockets[0].getsockname()[1]
    extra = f"""
[providers.j]
plugin = "openai"
settings = {{ base_url = "http://127.0.0.1:{up.port}/v1", api_key = "k" }}
[providers.j.models."j-1"]
context_length = 100000
[routes.j]
deployments = ["j/j-1"]
"""
    settings = router_settings(tmp_path, extra_toml=extra, retries=0)
    upstream = msgspec.structs.replace(settings.upstream, max_event_bytes=CAP)
    router = await start_router(msgspec.structs.replace(settings, upstream=upstream))
    try:
        reply = await post_chat(
            router, {"model": "j", "messages": [{"role": "user", "content": "hi"}]}
        )
    finally:
        await router.stop()
        server.close()
        await server.wait_closed()
    body = json.loads(reply.body)
    if size == "small":
        assert reply.status == 200, body
        assert body["choices"][0]["message"]["content"] == "ok"
        assert body["usage"]["total_tokens"] == 5
    else:
        assert reply.status == 502, body
        assert body == {
            "error": "model_error",
            "message": "The model provider sent an oversized response",
        }
