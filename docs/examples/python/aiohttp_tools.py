"""A streamed tool call and its round trip with aiohttp (no SDK).

1. Offer a tool and stream the answer; the model calls the tool. Tool-call arguments
   arrive in fragments: collect them per ``index``.
2. Run the tool here, send its result back as a ``tool`` message.
3. Stream the model's final answer, which uses the result.

    VIBEROUTER_API_KEY=vr-... python aiohttp_tools.py
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

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """The tool itself: a real program would call a weather service here."""
    return {"city": city, "forecast": "sunny", "temperature": 21, "unit": unit}


async def sse_data(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """The JSON payload of each ``data:`` event until ``[DONE]``."""
    async for raw in resp.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("data:") and (data := line[5:].strip()) != "[DONE]":
            yield json.loads(data)


async def stream_turn(
    session: aiohttp.ClientSession, messages: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Stream one assistant turn; return its text and its complete tool calls."""
    body = {"model": MODEL, "messages": messages, "tools": TOOLS, "stream": True}
    text = ""
    calls: dict[int, dict[str, Any]] = {}
    async with session.post(f"{BASE_URL}/chat/completions", json=body) as resp:
        if resp.status != 200:
            doc = await resp.json()
            raise SystemExit(f"{resp.status} {doc['error']}: {doc['message']}")
        async for chunk in sse_data(resp):
            if "error" in chunk:
                raise SystemExit(f"stream failed: {chunk['error']}: {chunk['message']}")
            for choice in chunk["choices"]:
                delta = choice["delta"]
                if delta.get("content"):
                    text += delta["content"]
                    print(delta["content"], end="", flush=True)
                for part in delta.get("tool_calls") or []:
                    # The first fragment of a call has its id and name; later ones only
                    # more argument text. ``index`` says which call a fragment belongs to.
                    call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
                    function = part.get("function") or {}
                    call["id"] = part.get("id") or call["id"]
                    call["name"] = function.get("name") or call["name"]
                    call["arguments"] += function.get("arguments") or ""
    if text:
        print()
    return text, [calls[i] for i in sorted(calls)]


async def main() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What is the weather in Paris? Use get_weather."}
    ]
    async with aiohttp.ClientSession(headers=HEADERS) as session:
        text, calls = await stream_turn(session, messages)
        if not calls:
            raise SystemExit("the model answered without calling the tool")
        messages.append(
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            arguments = json.loads(call["arguments"])
            print(f"tool call: {call['name']}({json.dumps(arguments)})")
            result = get_weather(**arguments)
            messages.append(
                {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)}
            )
        print("answer: ", end="")
        await stream_turn(session, messages)


asyncio.run(main())
