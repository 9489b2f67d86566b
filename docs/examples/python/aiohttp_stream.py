"""A streamed chat completion with aiohttp, reading the server-sent events by hand.

Each event is ``data: <one JSON chunk>`` followed by a blank line; lines starting with
``:`` are keep-alive comments; ``data: [DONE]`` ends a successful stream. An event
whose JSON has an ``error`` key is a mid-stream failure (see aiohttp_errors.py).

    VIBEROUTER_API_KEY=vr-... python aiohttp_stream.py
"""

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

BASE_URL = os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
HEADERS = {"Authorization": f"Bearer {os.environ['VIBEROUTER_API_KEY']}"}
MODEL = os.environ.get("VIBEROUTER_MODEL", "echo")


async def sse_data(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON payload of each ``data:`` event until ``[DONE]``. (VibeRouter sends one
    ``data:`` line per event; a general SSE reader would also join multi-line data.)"""
    async for raw in resp.content:  # one line at a time
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line.startswith("data:"):
            continue  # blank separator lines and ": keep-alive" comments
        data = line[5:].strip()
        if data == "[DONE]":
            return
        yield json.loads(data)


async def main() -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Stream these words one by one, please."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.post(f"{BASE_URL}/chat/completions", json=body) as resp,
    ):
        if resp.status != 200:
            doc = await resp.json()
            raise SystemExit(f"{resp.status} {doc['error']}: {doc['message']}")
        async for chunk in sse_data(resp):
            if "error" in chunk:
                raise SystemExit(f"\nstream failed: {chunk['error']}: {chunk['message']}")
            if chunk.get("usage"):  # the usage chunk: choices is empty
                usage = chunk["usage"]
                print(
                    f"tokens: prompt={usage['prompt_tokens']} "
                    f"completion={usage['completion_tokens']}"
                )
            for choice in chunk["choices"]:
                print(choice["delta"].get("content") or "", end="", flush=True)
                if choice["finish_reason"] is not None:
                    print()
                    print(f"finish_reason={choice['finish_reason']}")


asyncio.run(main())
