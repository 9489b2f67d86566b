"""A fake OpenAI ``POST /v1/responses`` upstream (the native side of the Responses
dialect's tests), written from the API's documented shapes, not from the router's
own encoder, so the router's pass-through is checked against an independent speaker.

Answers are derived from the request: with function tools and no tool output yet it
calls the first tool; with ``text.format`` json_schema it answers a JSON document
filling the schema; otherwise it answers ``Native: <last user text>``. A streamed
answer whose text holds ``FAIL_EARLY`` / ``FAIL_LATE`` ends with an in-band ``error``
event and ``response.failed``, before any output / after the first delta. It stores
nothing; ``previous_response_id`` is answered only for ids it issued (as OpenAI
would), so a test sees whether the router passed it through or expanded it::

    app = make_fake_responses()
    server = await aiohttp_server(app)
    app[FAKE_RESPONSES].requests[-1]     # the last JSON body received
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "sk-fake"
#: In the last user text, these make a stream fail in-band, before or after its first delta.
FAIL_EARLY, FAIL_LATE = "FAIL_EARLY", "FAIL_LATE"


@dataclass
class FakeResponsesState:
    """Every request body received, and the ids issued."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


FAKE_RESPONSES = web.AppKey("fake_responses", FakeResponsesState)


def make_fake_responses() -> web.Application:
    """A fresh fake serving ``POST /v1/responses``."""
    app = web.Application()
    app[FAKE_RESPONSES] = FakeResponsesState()
    app.router.add_post("/v1/responses", _create)
    return app


def _error(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> web.Response:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    }
    return web.json_response(body, status=status)


def _example(schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "object":
        return {k: _example(v) for k, v in schema.get("properties", {}).items()}
    return {"string": "fake", "integer": 1, "number": 1.5, "boolean": True, "array": []}.get(
        str(kind)
    )


def _last_user_text(items: list[Any]) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            parts = content if isinstance(content, list) else []
            return "".join(p.get("text", "") for p in parts if isinstance(p, dict))
    return ""


def _output(body: dict[str, Any], n: int) -> dict[str, Any]:
    items = (
        body["input"]
        if isinstance(body["input"], list)
        else [{"role": "user", "content": body["input"]}]
    )
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
    if tools and not answered:
        args = json.dumps(_example(tools[0].get("parameters") or {}), separators=(",", ":"))
        return {
            "id": f"fc_n{n}",
            "type": "function_call",
            "status": "completed",
            "call_id": f"call_n{n}",
            "name": tools[0]["name"],
            "arguments": args,
        }
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        text = json.dumps(_example(fmt.get("schema")), separators=(",", ":"))
    else:
        text = f"Native: {_last_user_text(items)}"
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "id": f"msg_n{n}",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [part],
    }


async def _create(request: web.Request) -> web.StreamResponse:
    state = request.app[FAKE_RESPONSES]
    if request.headers.get("Authorization") != f"Bearer {API_KEY}":
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    body = json.loads(await request.read())
    if not isinstance(body.get("model"), str) or "input" not in body:
        return _error(400, "Missing required parameter: 'model' or 'input'.")
    for name in ("models", "transforms"):
        if name in body:
            return _error(400, f"Unknown parameter: '{name}'.", param=name)
    prev = body.get("previous_response_id")
    if prev is not None and prev not in state.issued:
        return _error(
            400,
            f"Previous response with id '{prev}' not found.",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    state.requests.append(body)
    n = next(state.counter)
    rid = f"resp_native{n}"
    state.issued.add(rid)
    item = _output(body, n)
    usage = {
        "input_tokens": 11,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 18,
    }
    final = {
        "id": rid,
        "object": "response",
        "created_at": 1760000000,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "model": body["model"] + "-2025",
        "output": [item],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": body.get("tools") or [],
        "previous_response_id": prev,
        "store": body.get("store", True),
        "text": body.get("text") or {"format": {"type": "text"}},
        "metadata": body.get("metadata") or {},
        "usage": usage,
    }
    if not body.get("stream"):
        return web.json_response(final)
    return await _stream(request, final, item)


async def _stream(
    request: web.Request, final: dict[str, Any], item: dict[str, Any]
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    await resp.prepare(request)
    seq = itertools.count()
    started = {**final, "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
    ]
    opened = {**item, "status": "in_progress"}
    if item["type"] == "message":
        text = item["content"][0]["text"]
        opened["content"] = []
        ref = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        events += [
            {"type": "response.output_item.added", "output_index": 0, "item": opened},
            {"type": "response.content_part.added", **ref, "part": empty},
            *(
                {
                    "type": "response.output_text.delta",
                    **ref,
                    "delta": text[i : i + 4],
                    "logprobs": [],
                }
                for i in range(0, len(text), 4)
            ),
            {"type": "response.output_text.done", **ref, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **ref, "part": item["content"][0]},
        ]
    else:
        opened["arguments"] = ""
        ref = {"item_id": item["id"], "output_index": 0}
        events += [
            {"type": "response.output_item.added", "output_index": 0, "item": opened},
            {"type": "response.function_call_arguments.delta", **ref, "delta": item["arguments"]},
            {
                "type": "response.function_call_arguments.done",
                **ref,
                "arguments": item["arguments"],
            },
        ]
    events += [
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    text = json.dumps(final["output"])
    if FAIL_EARLY in text or FAIL_LATE in text:
        # The upstream fails in-band: before any output (the router may still fail
        # over) or after the first delta (the client sees the error event).
        keep = 2 if FAIL_EARLY in text else 5
        failed = {**started, "status": "failed", "error": {"code": "server_error",
                  "message": "The fake failed as asked."}}  # fmt: skip
        error = {
            "type": "server_error",
            "code": "server_error",
            "message": "The fake failed as asked.",
            "param": None,
        }
        events = [*events[:keep], {"type": "error", "error": error},
                  {"type": "response.failed", "response": failed}]  # fmt: skip
    for event in events:
        if event["type"] == "error" and FAIL_LATE in text:
            await asyncio.sleep(0.2)  # the output so far reaches the router on its own
        data = json.dumps({"type": event["type"], "sequence_number": next(seq), **event})
        await resp.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
    await resp.write_eof()
    return resp
