"""A fake OpenAI ``/v1/chat/completions`` upstream for tests (this plugin's and the core's).

It checks each request against the OpenAI request shape (auth header, content type,
required fields, roles, ``stream_options`` only with ``stream``, no router-only fields)
and answers with fixture bytes, optionally in small awkward writes with pauses::

    app = make_fake_openai(FakeOpenAIConfig(sse=Path("oa1.sse").read_bytes(), split=7))
    server = await aiohttp_server(app)          # pytest-aiohttp
    base_url = str(server.make_url("/v1"))
    ...
    app[FAKE_OPENAI].config.status = 429        # reconfigure between requests
    app[FAKE_OPENAI].requests[-1]               # the last JSON body received

Invalid requests get OpenAI-style 400/401 bodies, so a test sees what a real upstream
would say; that includes fields OpenAI does not know on messages, content parts and
tools (``cache_control``, ``reasoning_details`` ...) and a top-level ``reasoning``
object. ``responder`` answers a request from its body instead of ``json`` (a stream
is then that completion cut into chunks, usage last).
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ROUTER_ONLY = ("models", "transforms", "reasoning")
_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "refusal", "audio", "function_call"}
)
_EXTENSION_KEYS = ("cache_control",)
_DEFAULT_JSON = (
    b'{"id":"chatcmpl-fake","object":"chat.completion","created":1700000000,'
    b'"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Hello from the fake upstream.","refusal":null},"logprobs":null,'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":6,'
    b'"total_tokens":11}}'
)
_DEFAULT_SSE = (
    b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":""},"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Hello"},'
    b'"logprobs":null,"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{},"logprobs":null,'
    b'"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":5,'
    b'"completion_tokens":1,"total_tokens":6}}\n\n'
    b"data: [DONE]\n\n"
)


@dataclass
class FakeOpenAIConfig:
    """How the fake answers. Mutable: tests may change it between requests.

    ``json`` / ``sse``: reply bodies for non-streamed / streamed requests; ``status``:
    answer this HTTP status with ``error_body`` instead; ``split``: bytes per write
    (None = one write); ``delay``: seconds before each write (and before the headers
    when ``delay_headers``); ``api_key``: the Bearer token required (None = no check).
    """

    json: bytes = _DEFAULT_JSON
    sse: bytes = _DEFAULT_SSE
    status: int = 200
    error_body: bytes = (
        b'{"error":{"message":"The fake upstream was told to fail.",'
        b'"type":"server_error","param":null,"code":null}}'
    )
    headers: dict[str, str] = field(default_factory=dict)
    split: int | None = None
    delay: float = 0.0
    delay_headers: bool = False
    api_key: str | None = "sk-fake"
    #: What ``GET /v1/models`` lists (model discovery), and the status it answers with.
    models: list[str] = field(default_factory=lambda: ["gpt-4o-2024-08-06"])
    models_status: int = 200
    responder: Callable[[dict[str, Any]], bytes] | None = None


@dataclass
class FakeOpenAIState:
    """The fake's configuration and every valid request body it received."""

    config: FakeOpenAIConfig
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


FAKE_OPENAI = web.AppKey("fake_openai", FakeOpenAIState)


def make_fake_openai(config: FakeOpenAIConfig | None = None) -> web.Application:
    """A fresh fake upstream serving ``POST /v1/chat/completions``."""
    app = web.Application()
    app[FAKE_OPENAI] = FakeOpenAIState(config or FakeOpenAIConfig())
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_get("/v1/models", _models)
    return app


async def _models(request: web.Request) -> web.Response:
    """OpenAI's model list: ``{"object": "list", "data": [{"id", "object", ...}]}``."""
    state = request.app[FAKE_OPENAI]
    cfg = state.config
    state.headers.append(dict(request.headers))
    if cfg.api_key is not None and request.headers.get("Authorization") != f"Bearer {cfg.api_key}":
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    if cfg.models_status != 200:
        return web.Response(
            status=cfg.models_status, body=cfg.error_body, content_type="application/json"
        )
    data = [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in cfg.models
    ]
    return web.json_response({"object": "list", "data": data})


async def _embeddings(request: web.Request) -> web.Response:
    """``POST /v1/embeddings``: deterministic vectors (``dimensions`` long, 3 by default)
    as floats or, with ``encoding_format: "base64"``, little-endian float32 in base64."""
    state = request.app[FAKE_OPENAI]
    expected = f"Bearer {state.config.api_key}" if state.config.api_key else None
    if expected and request.headers.get("Authorization") != expected:
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    body = json.loads(await request.read())
    inputs = body.get("input")
    if not isinstance(body.get("model"), str) or inputs in (None, "", []):
        return _error(400, "'model' and a non-empty 'input' are required.")
    for name in _ROUTER_ONLY:
        if name in body:
            return _error(400, f"Unrecognized request argument supplied: {name}", param=name)
    state.requests.append(body)
    if isinstance(inputs, str) or (inputs and isinstance(inputs[0], int)):
        inputs = [inputs]
    dims = body.get("dimensions") or 3
    data = []
    for index, item in enumerate(inputs):
        vector = [round((len(str(item)) + i) / 100, 2) for i in range(dims)]
        encoded: Any = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(str(item).split()) for item in inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return web.json_response(
        {"object": "list", "data": data, "model": body["model"] + "-v1", "usage": usage}
    )


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[FAKE_OPENAI]
    config = state.config
    expected_auth = f"Bearer {config.api_key}" if config.api_key else None
    if expected_auth and request.headers.get("Authorization") != expected_auth:
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    if request.content_type != "application/json":
        return _error(400, "Content-Type must be application/json.")
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    problem = request_problem(body)
    if problem is not None:
        return _error(400, problem[1], param=problem[0])
    state.requests.append(body)
    state.headers.append(dict(request.headers))
    if config.delay_headers and config.delay:
        await asyncio.sleep(config.delay)
    if config.status != 200:
        return await _write(request, config, config.status, "application/json", config.error_body)
    if body.get("stream"):
        sse = config.sse if config.responder is None else as_sse(config.responder(body))
        return await _write(request, config, 200, "text/event-stream", sse)
    answer = config.responder(body) if config.responder is not None else config.json
    return await _write(request, config, 200, "application/json", answer)


def as_sse(completion: bytes) -> bytes:
    """A ``chat.completion`` as the stream OpenAI would send for it."""
    doc = json.loads(completion)
    head = {k: doc[k] for k in ("id", "created", "model")}
    choice = doc["choices"][0]
    message = choice["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("content"):
        deltas.append({"content": message["content"]})
    for i, call in enumerate(message.get("tool_calls") or []):
        deltas.append({"tool_calls": [{"index": i, **call}]})
    chunks = [
        {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d}]}
        for d in deltas
    ]
    finish = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    chunks.append({**head, "object": "chat.completion.chunk", "choices": [finish]})
    chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": doc["usage"]})
    return (
        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    )


def request_problem(body: Any) -> tuple[str | None, str] | None:
    """``(param, message)`` for the first way ``body`` breaks the OpenAI request shape."""
    if not isinstance(body, dict):
        return None, "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model", "You must provide a model parameter."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages", "'messages' must be a non-empty array."
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return f"messages[{i}].role", f"Invalid role in messages[{i}]."
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            return f"messages[{i}].tool_call_id", "Tool messages need a tool_call_id."
        if "content" not in message and "tool_calls" not in message:
            return f"messages[{i}].content", f"messages[{i}] needs content."
        unknown = sorted(set(message) - _MESSAGE_KEYS)
        parts = message.get("content")
        for part in parts if isinstance(parts, list) else []:
            unknown += [k for k in _EXTENSION_KEYS if isinstance(part, dict) and k in part]
        if unknown:
            return f"messages[{i}]", f"Unrecognized message field: {unknown[0]}"
    for t, tool in enumerate(body.get("tools") or []):
        if isinstance(tool, dict) and set(tool) - {"type", "function"}:
            return f"tools[{t}]", f"Unrecognized tool field: {sorted(set(tool))[0]}"
    if "stream_options" in body and not body.get("stream"):
        return (
            "stream_options",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        )
    for name in _ROUTER_ONLY:
        if name in body:
            return name, f"Unrecognized request argument supplied: {name}"
    return None


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return web.json_response({"error": error}, status=status)


async def _write(
    request: web.Request, config: FakeOpenAIConfig, status: int, content_type: str, body: bytes
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=config.headers)
    response.content_type = content_type
    await response.prepare(request)
    size = config.split or len(body) or 1
    for start in range(0, len(body), size):
        if config.delay:
            await asyncio.sleep(config.delay)
        await response.write(body[start : start + size])
    await response.write_eof()
    return response
