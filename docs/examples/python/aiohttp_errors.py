"""Handling VibeRouter's errors with aiohttp.

Every error is ``{"error": "<code>", "message": "<text>"}`` with an HTTP status; in a
stream that has started it is one ``data: {"error": ..., "message": ...}`` event, and
the stream ends without ``[DONE]``. This script provokes four of them against the echo
model:

* 401 invalid_api_key      a wrong key;
* 429 rate_limit_exceeded  a second request on a key limited to 1 request a minute
                           (set VIBEROUTER_LIMITED_API_KEY to such a key:
                           ``viberouter keys create <account> --rpm 1``);
* 502 model_error          the upstream fails (the echo's ``[[echo:status=500]]``);
* a mid-stream model_error after some text (the echo's ``[[echo:error-midstream]]``).

    VIBEROUTER_API_KEY=vr-... VIBEROUTER_LIMITED_API_KEY=vr-... python aiohttp_errors.py
"""

import asyncio
import json
import os
from typing import Any

import aiohttp

BASE_URL = os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
MODEL = os.environ.get("VIBEROUTER_MODEL", "echo")

# What a client should do about each error code.
ACTIONS = {
    "invalid_request": "fix the request; the message names the field",
    "invalid_model": "use a model listed by GET /v1/models",
    "context_length_exceeded": "shorten the messages or lower max_tokens",
    "content_filter": "change the content; retrying will not help",
    "invalid_api_key": "check the key (VIBEROUTER_API_KEY)",
    "expired_api_key": "ask the operator for a new key",
    "account_not_active": "ask the operator to reactivate the account",
    "rate_limit_exceeded": "wait Retry-After seconds, then retry",
    "quota_exceeded": "stop until the quota period resets",
    "concurrent_requests": "retry when one of your requests has finished",
    "server_error": "retry later; report the X-Request-ID to the operator",
    "model_error": "retry; the router already tried every deployment it has",
    "timeout": "retry, perhaps with a smaller max_tokens",
}


async def chat(
    session: aiohttp.ClientSession, api_key: str, text: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """(status, headers, JSON body) of one non-streamed request."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
    headers = {"Authorization": f"Bearer {api_key}"}
    async with session.post(f"{BASE_URL}/chat/completions", json=body, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.json()


def report(case: str, status: int, headers: dict[str, str], doc: dict[str, Any]) -> None:
    code = doc["error"]
    line = f"{case}: {status} {code}"
    if "Retry-After" in headers:
        line += f", retry after {headers['Retry-After']} s"
    print(line)
    print(f"  message: {doc['message']}")
    print(f"  action: {ACTIONS.get(code, 'see the message')}")


async def main() -> None:
    key = os.environ["VIBEROUTER_API_KEY"]
    async with aiohttp.ClientSession() as session:
        # 1. A wrong key.
        report("unauthorized", *await chat(session, "vr-not-a-real-key", "hello"))

        # 2. Over the rate limit: 429 with Retry-After (whole seconds).
        limited_key = os.environ.get("VIBEROUTER_LIMITED_API_KEY")
        if limited_key:
            for _ in range(2):
                status, headers, doc = await chat(session, limited_key, "hello")
                if status == 429:
                    report("rate limited", status, headers, doc)
                    break
        else:
            print("rate limited: skipped (set VIBEROUTER_LIMITED_API_KEY to a key with rpm=1)")

        # 3. The upstream fails before answering.
        report("upstream failure", *await chat(session, key, "hello [[echo:status=500]]"))

        # 4. The upstream fails mid-stream: the status was already 200, so the error is
        # an event; keep what arrived before it.
        body = {
            "model": MODEL,
            "stream": True,
            "messages": [
                {
                    "role": "user",
                    "content": "Count one two three four five [[echo:error-midstream]]",
                }
            ],
        }
        received = ""
        async with session.post(
            f"{BASE_URL}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as resp:
            async for raw in resp.content:
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line.startswith("data:") or line == "data: [DONE]":
                    continue
                event = json.loads(line[5:])
                if "error" in event:
                    print(f"mid-stream: {event['error']} after '{received.strip()}'")
                    print(f"  action: {ACTIONS.get(event['error'], 'see the message')}")
                    break
                for choice in event["choices"]:
                    received += choice["delta"].get("content") or ""


asyncio.run(main())
