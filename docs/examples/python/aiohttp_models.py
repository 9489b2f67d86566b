"""List the models VibeRouter publishes, with aiohttp.

VIBEROUTER_API_KEY=vr-... python aiohttp_models.py
"""

import asyncio
import os

import aiohttp

BASE_URL = os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
HEADERS = {"Authorization": f"Bearer {os.environ['VIBEROUTER_API_KEY']}"}


async def main() -> None:
    async with (
        aiohttp.ClientSession(headers=HEADERS) as session,
        session.get(f"{BASE_URL}/models") as resp,
    ):
        doc = await resp.json()
        if resp.status != 200:
            raise SystemExit(f"{resp.status} {doc['error']}: {doc['message']}")
    for card in doc["data"]:
        print(
            f"{card['id']}\tcontext={card['context_length']}\tstatus={card['status']}"
            f"\ttools={card['capabilities']['tools']}"
        )


asyncio.run(main())
