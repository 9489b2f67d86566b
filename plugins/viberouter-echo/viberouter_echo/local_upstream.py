"""The in-process fake upstream behind ``local://echo/...``: speaks the OpenAI wire format.

Sleeping (``delay_ms`` between streamed tokens, forever for ``[[echo:hang]]``) is the only
thing it waits on; it never touches the network.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec

from router_core.plugin_api import (
    ChatRequest,
    LocalResponse,
    UpstreamRequest,
    json_encode,
    new_completion_id,
    now,
)
from viberouter_echo import wire
from viberouter_echo.reply import ReplyPlan, plan_reply

ECHO_URL = "local://echo/chat/completions"
# Content tokens sent before the [[echo:error-midstream]] error event.
_TOKENS_BEFORE_ERROR = 3
_JSON = {"content-type": "application/json"}
_SSE = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
_request_decoder = msgspec.json.Decoder(ChatRequest)


def serve(request: UpstreamRequest, delay_s: float) -> LocalResponse:
    """Answer one upstream request the way OpenAI would."""
    if request.url != ECHO_URL or request.method != "POST":
        return _error(404, f"The echo upstream has no {request.method} {request.url}")
    try:
        chat = _request_decoder.decode(request.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return _error(400, f"Invalid request body: {exc}")
    plan = plan_reply(chat)
    directives = plan.directives
    if directives.hang:
        return LocalResponse(200, _SSE if chat.stream else _JSON, _hang())
    if directives.status is not None and directives.status >= 400:
        return _error(
            directives.status,
            f"The echo upstream answered HTTP {directives.status} "
            f"as asked by [[echo:status={directives.status}]]",
        )
    cid, created = new_completion_id(), now()
    if chat.stream:
        return LocalResponse(200, _SSE, _stream(plan, chat.model, cid, created, delay_s))
    if directives.error_midstream:
        return _error(500, "The echo upstream failed as asked by [[echo:error-midstream]]")
    doc = wire.completion(plan, cid=cid, created=created, model=chat.model)
    # A non-streamed answer takes as long as the stream would have.
    wait = delay_s * plan.completion_tokens
    return LocalResponse(200, _JSON, _once(json_encode(doc), wait))


def _error(status: int, message: str) -> LocalResponse:
    headers = dict(_JSON)
    if status in (429, 503):
        headers["retry-after"] = "1"
    return LocalResponse(status, headers, _once(wire.error_body(status, message), 0.0))


async def _once(body: bytes, wait: float) -> AsyncIterator[bytes]:
    if wait > 0:
        await asyncio.sleep(wait)
    yield body


async def _hang() -> AsyncIterator[bytes]:
    # Waits until the core cancels the read; the yield only makes this a generator.
    await asyncio.Event().wait()
    yield b""


async def _stream(
    plan: ReplyPlan, model: str, cid: str, created: int, delay_s: float
) -> AsyncIterator[bytes]:
    failing = plan.directives.error_midstream
    max_steps = _TOKENS_BEFORE_ERROR if failing else None
    chunks = wire.stream_chunks(plan, cid=cid, created=created, model=model, max_steps=max_steps)
    for position, chunk in enumerate(chunks):
        if position and delay_s > 0:
            await asyncio.sleep(delay_s)
        yield wire.sse_event(chunk)
    if failing:
        yield wire.error_event("The echo upstream failed mid-stream as asked")
        return
    yield wire.SSE_DONE
