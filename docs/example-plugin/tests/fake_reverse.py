"""A fake Reverse API upstream for tests: it speaks the exact wire format, so the
plugin's requests go over real HTTP on loopback and its answers are parsed for real::

    app = make_fake_reverse(FakeReverseConfig(split=3))
    server = await aiohttp_server(app)              # pytest-aiohttp
    base_url = str(server.make_url(""))
    app[FAKE_REVERSE].requests[-1]                  # the last JSON body received

It reverses the words of the last user turn (or its letters with ``mode: letters``),
honours ``max_words``, and fails on request (``status``, ``fail_after_words``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeReverseConfig:
    """How the fake answers; tests may change it between requests.

    ``status``: answer this status with ``{"code": error_code}`` instead (and
    ``retry_after`` as a header); ``fail_after_words``: a stream sends that many words,
    then an ``error`` line; ``split``: bytes per write (None = one write);
    ``delay``: seconds before each write."""

    api_key: str | None = "rk-test"
    status: int = 200
    error_code: str = "overloaded"
    retry_after: str | None = None
    fail_after_words: int | None = None
    split: int | None = None
    delay: float = 0.0


@dataclass
class FakeReverseState:
    """The fake's configuration and every valid request body it received."""

    config: FakeReverseConfig
    requests: list[dict[str, Any]] = field(default_factory=list)


FAKE_REVERSE = web.AppKey("fake_reverse", FakeReverseState)
CREATED = 1700000000


def make_fake_reverse(config: FakeReverseConfig | None = None) -> web.Application:
    """A fresh fake serving ``POST /v1/reverse``."""
    app = web.Application()
    app[FAKE_REVERSE] = FakeReverseState(config or FakeReverseConfig())
    app.router.add_post("/v1/reverse", _reverse)
    return app


async def _reverse(request: web.Request) -> web.StreamResponse:
    state = request.app[FAKE_REVERSE]
    config = state.config
    if config.api_key and request.headers.get("X-Api-Key") != config.api_key:
        return _error(401, "bad_key", "Unknown API key")
    try:
        body = json.loads(await request.read())
        turns = body["turns"]
        if not isinstance(body["model"], str) or not all(t["from"] for t in turns):
            raise ValueError("bad shape")
    except (ValueError, KeyError, TypeError):
        return _error(400, "bad_request", "The body is not a Reverse API request")
    state.requests.append(body)
    if config.status != 200:
        headers = {"Retry-After": config.retry_after} if config.retry_after else {}
        return _error(config.status, config.error_code, "The fake was told to fail", headers)
    rid = f"rev_{len(state.requests)}"
    words_in = sum(len(t["text"].split()) for t in turns)
    last = next((t["text"] for t in reversed(turns) if t["from"] == "user"), "")
    source = last[::-1] if body.get("mode") == "letters" else " ".join(reversed(last.split()))
    words = source.split()
    stop = "end"
    max_words = body.get("max_words")
    if isinstance(max_words, int) and len(words) > max_words:
        words, stop = words[:max_words], "limit"
    if not body.get("stream"):
        answer = {
            "id": rid,
            "created": CREATED,
            "model": body["model"],
            "text": " ".join(words),
            "stop": stop,
            "words_in": words_in,
            "words_out": len(words),
        }
        return await _write(request, config, 200, "application/json", _dumps(answer) + b"\n")
    lines = [{"type": "start", "id": rid, "created": CREATED, "model": body["model"]}]
    for i, word in enumerate(words):
        if config.fail_after_words is not None and i == config.fail_after_words:
            lines.append({"type": "error", "code": "overloaded", "message": "Out of mirrors"})
            break
        lines.append({"type": "word", "text": word if i == len(words) - 1 else word + " "})
    else:
        lines.append({"type": "end", "stop": stop, "words_in": words_in, "words_out": len(words)})
    raw = b"".join(_dumps(line) + b"\n" for line in lines)
    return await _write(request, config, 200, "application/x-ndjson", raw)


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=_dumps({"code": code, "message": message}),
        content_type="application/json",
        headers=headers,
    )


async def _write(
    request: web.Request, config: FakeReverseConfig, status: int, content_type: str, body: bytes
) -> web.StreamResponse:
    response = web.StreamResponse(status=status)
    response.content_type = content_type
    await response.prepare(request)
    size = config.split or len(body)
    for start in range(0, len(body), size):
        if config.delay:
            await asyncio.sleep(config.delay)
        await response.write(body[start : start + size])
    await response.write_eof()
    return response
