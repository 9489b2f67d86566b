"""A fake Gemini ``generateContent`` upstream for tests (also reused end to end).

``make_app(replies)`` returns an aiohttp application that checks each request the
way the real API would reject it (API key header, path, ``alt=sse``, camelCase
keys, roles ``user``/``model`` only, non-empty parts, functionResponse names, a
JSON schema only with the JSON MIME type, one of thinkingBudget / thinkingLevel, and
on Gemini 3 models a ``thoughtSignature`` on every replayed ``functionCall``) and
answers with fixture bytes. A request that fails a check gets a Google-style 400
INVALID_ARGUMENT (or API_KEY_INVALID) and is recorded in ``app[VIOLATIONS]``;
every request is recorded in ``app[CALLS]``.

    app = make_app([FakeReply.from_file(data / "ge1.sse", piece_size=7)])
    server = await aiohttp_server(app)
    base_url = str(server.make_url("/v1beta"))
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

DEFAULT_API_KEY = "test-gemini-key"
_json = msgspec.json.Decoder()
_encode = msgspec.json.Encoder()

_TOP_LEVEL = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "generationConfig",
        "safetySettings",
        "cachedContent",
    }
)
_PART_DATA = frozenset(
    {
        "text",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
    }
)
_PART_KEYS = _PART_DATA | {"thought", "thoughtSignature", "videoMetadata"}
# Values under these keys are user payloads (JSON Schema, tool arguments): any key is legal.
_FREE_FORM = frozenset(
    {
        "args",
        "response",
        "parameters",
        "parametersJsonSchema",
        "responseSchema",
        "responseJsonSchema",
    }
)


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One canned answer: status, headers and the exact body bytes."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    #: write the body in slices of this many bytes (splits CRLF pairs and UTF-8 sequences)
    piece_size: int | None = None

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        piece_size: int | None = None,
    ) -> FakeReply:
        """A reply from a fixture file; ``.sse`` files are sent as an event stream."""
        sse = path.suffix == ".sse"
        return cls(
            body=path.read_bytes(),
            status=status,
            content_type="text/event-stream" if sse else "application/json",
            headers=dict(headers or {}),
            piece_size=piece_size,
        )


@dataclass(frozen=True, slots=True)
class ReceivedCall:
    """What the fake saw: model and action from the path, headers, decoded body."""

    model: str
    stream: bool
    headers: Mapping[str, str]
    body: Any


Replier = Callable[[ReceivedCall], FakeReply]
CALLS = web.AppKey("gemini_calls", list[ReceivedCall])
VIOLATIONS = web.AppKey("gemini_violations", list[str])


def make_app(
    replies: Sequence[FakeReply] | Replier,
    *,
    api_key: str = DEFAULT_API_KEY,
    base_path: str = "/v1beta",
) -> web.Application:
    """The fake upstream. A sequence is answered in order, its last reply repeating."""
    app = web.Application()
    app[CALLS] = []
    app[VIOLATIONS] = []
    queue = list(replies) if not callable(replies) else []

    def pick(call: ReceivedCall) -> FakeReply:
        if callable(replies):
            return replies(call)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if request.headers.get("x-goog-api-key") != api_key:
            return _reject(app, "API key not valid. Please pass a valid API key.", key=True)
        prefix = base_path.rstrip("/") + "/models/"
        model, _, action = request.path.removeprefix(prefix).partition(":")
        stream = action == "streamGenerateContent"
        if action in EMBED_ACTIONS and request.path.startswith(prefix):
            return _embed(app, request, model, action, raw)
        problem: str | None = None
        if not request.path.startswith(prefix) or not model or "/" in model:
            problem = f"unknown path {request.path}"
        elif action not in ("generateContent", "streamGenerateContent"):
            problem = f"unknown method {action}"
        elif stream != (request.query.get("alt") == "sse"):
            problem = "streamGenerateContent needs alt=sse (and generateContent must not have it)"
        try:
            body = _json.decode(raw)
        except msgspec.DecodeError:
            body, problem = None, problem or "Invalid JSON payload received."
        problem = problem or check_body(body, model=model)
        if problem is not None:
            return _reject(app, problem)
        call = ReceivedCall(model=model, stream=stream, headers=dict(request.headers), body=body)
        app[CALLS].append(call)
        return await _send(request, pick(call))

    app.router.add_route("POST", "/{tail:.*}", handle)
    return app


#: The embedding methods: answered with deterministic vectors, not from ``replies``.
EMBED_ACTIONS = frozenset({"embedContent", "batchEmbedContents"})


def _embed_one(request: Any, model: str, batched: bool) -> list[float] | str:
    """The vector for one EmbedContentRequest, or the reason Gemini would refuse it."""
    if not isinstance(request, dict) or set(request) - {
        "content", "model", "taskType", "title", "outputDimensionality"
    }:  # fmt: skip
        return "unknown field in EmbedContentRequest"
    if batched and request.get("model") != f"models/{model}":
        return "batchEmbedContents: each request needs model 'models/{model}'"
    parts = (request.get("content") or {}).get("parts")
    if not isinstance(parts, list) or not parts or not all("text" in p for p in parts):
        return "content.parts must be non-empty text parts"
    text = "".join(p["text"] for p in parts)
    dims = request.get("outputDimensionality") or 8
    return [((len(text) * 7 + i * 3) % 11 - 5) / 10 for i in range(dims)]


def _embed(
    app: web.Application, request: web.Request, model: str, action: str, raw: bytes
) -> web.Response:
    """``embedContent`` / ``batchEmbedContents``: one vector per text, no index (as Gemini)."""
    try:
        body = _json.decode(raw)
    except msgspec.DecodeError:
        return _reject(app, "Invalid JSON payload received.")
    batched = action == "batchEmbedContents"
    requests = body.get("requests") if batched and isinstance(body, dict) else [body]
    if not isinstance(requests, list) or not requests:
        return _reject(app, "batchEmbedContents needs a non-empty 'requests' list")
    vectors = [_embed_one(r, model, batched) for r in requests]
    for v in vectors:
        if isinstance(v, str):
            return _reject(app, v)
    app[CALLS].append(ReceivedCall(model, False, dict(request.headers), body))
    if batched:
        answer: Any = {"embeddings": [{"values": v} for v in vectors]}
    else:
        answer = {"embedding": {"values": vectors[0]}}
    return web.Response(body=_encode.encode(answer), content_type="application/json")


def check_body(body: Any, *, model: str = "") -> str | None:
    """The first reason Gemini would reject this generateContent body, or None."""
    problem = _check_contents(body, model)
    return problem or _check_generation_config(body.get("generationConfig"))


def _check_generation_config(config: Any) -> str | None:
    if config is None:
        return None
    schema = "responseJsonSchema" in config or "responseSchema" in config
    if schema and config.get("responseMimeType") != "application/json":
        return "generationConfig: a response schema needs responseMimeType application/json"
    if "responseJsonSchema" in config and "responseSchema" in config:
        return "generationConfig: responseSchema and responseJsonSchema are mutually exclusive"
    thinking = config.get("thinkingConfig") or {}
    if "thinkingBudget" in thinking and "thinkingLevel" in thinking:
        return "thinkingConfig: thinkingBudget and thinkingLevel are mutually exclusive"
    return None


def _check_contents(body: Any, model: str) -> str | None:
    if not isinstance(body, dict):
        return "Invalid JSON payload received: the body must be an object"
    for key in body:
        if key not in _TOP_LEVEL:
            return f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
    bad_key = _snake_key(body)
    if bad_key:
        return f'Invalid JSON payload received. Unknown name "{bad_key}" (REST keys are camelCase)'
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for i, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return f"contents[{i}].role: Please use a valid role: user, model."
        problem = _check_parts(content.get("parts"), f"contents[{i}]")
        if problem:
            return problem
        unsigned = [
            j
            for j, part in enumerate(content["parts"])
            if "functionCall" in part and not part.get("thoughtSignature")
        ]
        if model.startswith("gemini-3") and content["role"] == "model" and unsigned:
            return (
                f"Function call is missing a thought_signature in functionCall parts. "
                f"contents[{i}].parts[{unsigned[0]}]"
            )
    system = body.get("systemInstruction")
    if system is not None:
        problem = _check_parts(system.get("parts"), "systemInstruction")
        if problem:
            return problem
    for t, tool in enumerate(body.get("tools", [])):
        for d, decl in enumerate(tool.get("functionDeclarations", [])):
            if not decl.get("name"):
                return f"tools[{t}].functionDeclarations[{d}].name: required"
            if "parameters" in decl and "parametersJsonSchema" in decl:
                return (
                    f"tools[{t}].functionDeclarations[{d}]: "
                    "parameters and parametersJsonSchema are mutually exclusive"
                )
    return None


def _check_parts(parts: Any, where: str) -> str | None:
    if not isinstance(parts, list) or not parts:
        return f"{where}.parts: must not be empty"
    for j, part in enumerate(parts):
        unknown = set(part) - _PART_KEYS
        if unknown:
            name = sorted(unknown)[0]
            return f'Invalid JSON payload received. Unknown name "{name}" at {where}.parts[{j}]'
        if len(set(part) & _PART_DATA) != 1:
            return f"{where}.parts[{j}]: exactly one data field is required"
        response = part.get("functionResponse")
        if response is not None and (
            not response.get("name") or not isinstance(response.get("response"), dict)
        ):
            return f"{where}.parts[{j}].functionResponse: name and an object response are required"
        call = part.get("functionCall")
        if call is not None and (
            not call.get("name") or not isinstance(call.get("args", {}), dict)
        ):
            return f"{where}.parts[{j}].functionCall: name and object args are required"
    return None


def _snake_key(value: Any) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if "_" in key:
                return str(key)
            if key not in _FREE_FORM:
                found = _snake_key(item)
                if found:
                    return found
    elif isinstance(value, list):
        for item in value:
            found = _snake_key(item)
            if found:
                return found
    return None


def _reject(app: web.Application, message: str, *, key: bool = False) -> web.Response:
    app[VIOLATIONS].append(message)
    error: dict[str, Any] = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    if key:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
    return web.Response(
        status=400, body=_encode.encode({"error": error}), content_type="application/json"
    )


async def _send(request: web.Request, reply: FakeReply) -> web.StreamResponse:
    if reply.piece_size is None:
        return web.Response(
            status=reply.status,
            body=reply.body,
            headers={**reply.headers, "Content-Type": reply.content_type},
        )
    response = web.StreamResponse(
        status=reply.status, headers={**reply.headers, "Content-Type": reply.content_type}
    )
    await response.prepare(request)
    for start in range(0, len(reply.body), reply.piece_size):
        await response.write(reply.body[start : start + reply.piece_size])
        await asyncio.sleep(0)  # let the client see each piece separately
    await response.write_eof()
    return response
