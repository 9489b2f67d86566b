"""``python -m bench.floor --level N``: the leanest gateway with the issue's features.

The issue asks for 0.70x the pass-through's throughput "with auth, limits, metrics
and logs on". This server answers how much of the budget those features cost by
themselves, each in the cheapest form that still does the job, added one rung at a
time on top of the pass-through (``bench/passthrough.py``: same aiohttp server and
client, same uvloop, the router's garbage-collector settings). ``bench.ladder`` runs
every rung side by side with the pass-through and the router.

Rungs (each includes the ones before it):

1. ``parse``: the request body decoded into a Struct (model, messages, stream,
   max_tokens) and re-encoded for the upstream with the deployment's model name; the
   answer's ``usage`` decoded (the bytes forwarded as they came); a stream's SSE
   events split and each ``data:`` payload decoded for its usage, bytes forwarded;
2. ``auth``: ``Authorization: Bearer``, SHA-256 of the key, a dict lookup, a
   constant-time compare;
3. ``limits``: per key, a requests-per-minute window, a tokens-per-minute
   reservation (estimate in, actual usage settled), a concurrency count, and the
   rate-limit headers on the answer;
4. ``metrics``: prometheus-client: requests by model and status, duration
   histogram, prompt and completion tokens, in-flight gauge (label children cached);
5. ``log``: one JSON line per request (msgspec), appended to a file in batches every
   50 ms (the router's access log is batched the same way);
6. ``deadlines``: a total deadline around the upstream exchange
   (``asyncio.timeout``), a request id on every answer, the SSE headers a stream
   needs (no caching, no proxy buffering).

Nothing else the router does is here: no routing, fallbacks or circuit breakers,
no guards, no plugin translation, no billing ledger, no drain, no client write
timeout. The floor is therefore a lower bound of any gateway with these features on
this stack.

Run: ``python -m bench.floor --port 9002 --upstream http://127.0.0.1:9000 --level 6``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import itertools
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from bench.loop import run_server

LEVELS = ("parse", "auth", "limits", "metrics", "log", "deadlines")
#: The key every rung from ``auth`` on accepts (the ladder sends it).
BENCH_KEY = "sk-floor-bench-key"
_FORWARD_HEADERS = {"Content-Type": "application/json"}


class Message(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | list[Any] | None = None


class ChatRequest(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[Message]
    stream: bool = False
    max_tokens: int | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Answer(msgspec.Struct):
    usage: Usage | None = None


_decode_request = msgspec.json.Decoder(ChatRequest).decode
_encode = msgspec.json.Encoder().encode
_decode_answer = msgspec.json.Decoder(Answer).decode


@dataclass
class KeyState:
    """One key's limits and counters (the ``limits`` rung)."""

    key_hash: str
    rpm: int = 100_000_000
    tpm: int = 100_000_000_000
    concurrency: int = 100_000
    window: int = 0
    requests: int = 0
    tokens: int = 0
    in_flight: int = 0


@dataclass
class Floor:
    """The server's state: its level, the upstream, keys, metrics, log batch."""

    level: int
    upstream: str
    session: aiohttp.ClientSession | None = None
    keys: dict[str, KeyState] = field(default_factory=dict)
    log_lines: list[bytes] = field(default_factory=list)
    log_file: Any = None
    metrics: Any = None
    ids: itertools.count[int] = field(default_factory=itertools.count)


class Metrics:
    """The router's per-request metrics, children cached per label set."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        reg = CollectorRegistry()
        self.requests = Counter("floor_requests", "requests", ["model", "status"], registry=reg)
        self.duration = Histogram("floor_duration_seconds", "duration", ["model"], registry=reg)
        self.tokens = Counter("floor_tokens", "tokens", ["model", "kind"], registry=reg)
        self.in_flight = Gauge("floor_in_flight", "in flight", registry=reg)
        self._children: dict[tuple[str, int], tuple[Any, Any, Any, Any]] = {}

    def observe(self, model: str, status: int, seconds: float, usage: Usage | None) -> None:
        c = self._children.get((model, status))
        if c is None:
            c = self._children[(model, status)] = (
                self.requests.labels(model, str(status)),
                self.duration.labels(model),
                self.tokens.labels(model, "prompt"),
                self.tokens.labels(model, "completion"),
            )
        c[0].inc()
        c[1].observe(seconds)
        if usage is not None:
            c[2].inc(usage.prompt_tokens)
            c[3].inc(usage.completion_tokens)


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code, "message": code}, status=status)


def _authenticate(floor: Floor, request: web.Request) -> KeyState | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    digest = hashlib.sha256(header[7:].encode()).hexdigest()
    state = floor.keys.get(digest)
    if state is None or not hmac.compare_digest(state.key_hash, digest):
        return None
    return state


def _admit(state: KeyState, estimate: int) -> bool:
    window = int(time.monotonic() // 60)
    if window != state.window:
        state.window, state.requests, state.tokens = window, 0, 0
    if (
        state.requests >= state.rpm
        or state.tokens + estimate > state.tpm
        or state.in_flight >= state.concurrency
    ):
        return False
    state.requests += 1
    state.tokens += estimate
    state.in_flight += 1
    return True


def _settle(state: KeyState, estimate: int, usage: Usage | None) -> None:
    state.in_flight -= 1
    if usage is not None:
        state.tokens += usage.prompt_tokens + usage.completion_tokens - estimate


def _limit_headers(state: KeyState) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(state.rpm),
        "x-ratelimit-remaining-requests": str(state.rpm - state.requests),
        "x-ratelimit-limit-tokens": str(state.tpm),
        "x-ratelimit-remaining-tokens": str(state.tpm - state.tokens),
    }


def _stream_usage(buf: bytearray, data: bytes) -> Usage | None:
    """Split the SSE events completed by ``data``; the last usage among them."""
    buf += data
    usage = None
    while True:
        end = buf.find(b"\n\n")
        if end < 0:
            return usage
        event = bytes(buf[:end])
        del buf[: end + 2]
        if event.startswith(b"data: ") and event != b"data: [DONE]":
            got = _decode_answer(event[6:]).usage
            if got is not None:
                usage = got


async def _exchange(
    floor: Floor, request: web.Request, chat: ChatRequest, headers: dict[str, str]
) -> tuple[web.StreamResponse, Usage | None]:
    body = _encode(msgspec.structs.replace(chat, model="m-fast"))
    assert floor.session is not None
    async with floor.session.post(floor.upstream, data=body, headers=_FORWARD_HEADERS) as up:
        if not chat.stream:
            raw = await up.read()
            usage = _decode_answer(raw).usage
            headers["Content-Type"] = "application/json"
            return web.Response(body=raw, status=up.status, headers=headers), usage
        headers["Content-Type"] = "text/event-stream"
        if floor.level >= 6:
            headers["Cache-Control"] = "no-cache"
            headers["X-Accel-Buffering"] = "no"
        out = web.StreamResponse(status=up.status, headers=headers)
        await out.prepare(request)
        buf = bytearray()
        usage = None
        async for data in up.content.iter_any():
            usage = _stream_usage(buf, data) or usage
            await out.write(data)
        await out.write_eof()
        return out, usage


async def handle(request: web.Request) -> web.StreamResponse:
    """One chat request through the rungs up to the server's level."""
    floor: Floor = request.app[FLOOR]
    started = time.monotonic()
    state = None
    if floor.level >= 2:
        state = _authenticate(floor, request)
        if state is None:
            return _error(401, "invalid_api_key")
    try:
        chat = _decode_request(await request.read())
    except msgspec.ValidationError:
        return _error(400, "invalid_request")
    headers: dict[str, str] = {}
    estimate = 0
    if state is not None and floor.level >= 3:
        estimate = len(chat.messages) * 16 + (chat.max_tokens or 0)
        if not _admit(state, estimate):
            return _error(429, "rate_limited")
        headers.update(_limit_headers(state))
    if floor.level >= 6:
        headers["x-request-id"] = f"req-{next(floor.ids)}"
    usage = None
    status = 502
    try:
        if floor.level >= 6:
            async with asyncio.timeout(300):
                resp, usage = await _exchange(floor, request, chat, headers)
        else:
            resp, usage = await _exchange(floor, request, chat, headers)
        status = resp.status
        return resp
    finally:
        if state is not None and floor.level >= 3:
            _settle(state, estimate, usage)
        _observe(floor, chat, status, started, usage)


def _observe(
    floor: Floor, chat: ChatRequest, status: int, started: float, usage: Usage | None
) -> None:
    if floor.level >= 4:
        floor.metrics.observe(chat.model, status, time.monotonic() - started, usage)
    if floor.level >= 5:
        line = {
            "event": "request",
            "ts": time.time(),
            "model": chat.model,
            "status": status,
            "stream": chat.stream,
            "duration_ms": round((time.monotonic() - started) * 1000, 3),
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
        }
        floor.log_lines.append(_encode(line) + b"\n")


FLOOR = web.AppKey("floor", Floor)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    floor = app[FLOOR]
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    async with aiohttp.ClientSession(
        connector=connector, skip_auto_headers=("User-Agent",)
    ) as session:
        floor.session = session
        flusher = None
        if floor.log_file is not None:
            flusher = asyncio.create_task(_flush_logs(floor))
        gc.freeze()  # as the router does once it listens
        gc.set_threshold(20_000)
        yield
        if flusher is not None:
            flusher.cancel()
            floor.log_file.close()


async def _flush_logs(floor: Floor) -> None:
    while True:
        await asyncio.sleep(0.05)
        if floor.log_lines:
            lines, floor.log_lines = floor.log_lines, []
            floor.log_file.write(b"".join(lines))


def make_app(upstream: str, level: int, log_path: str = os.devnull) -> web.Application:
    """The floor at ``level`` (1-6) forwarding to ``upstream``, its access lines (from
    level 5) appended to ``log_path``."""
    app = web.Application()
    floor = Floor(level=level, upstream=upstream.rstrip("/") + "/v1/chat/completions")
    if level >= 5:
        floor.log_file = open(log_path, "ab")  # noqa: SIM115 - closed by _lifecycle
    digest = hashlib.sha256(BENCH_KEY.encode()).hexdigest()
    floor.keys[digest] = KeyState(key_hash=digest)
    if level >= 4:
        floor.metrics = Metrics()
    app[FLOOR] = floor
    app.router.add_post("/v1/chat/completions", handle)
    app.cleanup_ctx.append(_lifecycle)
    return app


def main() -> None:
    """Command line entry: ``python -m bench.floor``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    parser.add_argument("--level", type=int, choices=range(1, len(LEVELS) + 1), required=True)
    parser.add_argument("--log-file", default=os.devnull, help="access lines (level 5 on)")
    args = parser.parse_args()
    run_server(make_app(args.upstream, args.level, args.log_file), args.port)


if __name__ == "__main__":
    main()
