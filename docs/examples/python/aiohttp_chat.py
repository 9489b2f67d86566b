"""A plain chat completion through VibeRouter with aiohttp: just HTTP and JSON.

pip install aiohttp
VIBEROUTER_API_KEY=vr-... python aiohttp_chat.py
"""

import asyncio
import os

import aiohttp

BASE_URL = os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
HEADERS = {"Authorization": f"Bearer {os.environ['VIBEROUTER_API_KEY']}"}
MODEL = os.environ.get("VIBEROUTER_MODEL", "echo")


async def main() -> None:
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Hello, VibeRouter!"},
        ],
        "max_tokens": 100,
    }
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.post(f"{BASE_URL}/chat/completions", json=body) as resp,
    ):
        doc = await resp.json()
        if resp.status != 200:
            raise SystemExit(f"{resp.status} {doc['error']}: {doc['message']}")
    choice = doc["choices"][0]
    print(choice["message"]["content"])
    print(f"finish_reason={choice['finish_reason']}")
    usage = doc["usage"]
    print(f"tokens: prompt={usage['prompt_tokens']} completion={usage['completion_tokens']}")


asyncio.run(main())
