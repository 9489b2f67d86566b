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
   needs (no caching, no proxy buffering);
7. ``routing``: the model's route from a table, the key's model allowance, two
   deployments tried in order (the second when the first's circuit is open or it
   answers 5xx before anything was sent), a circuit per deployment (failures
   counted, opened for 30 s after five), its in-flight count and latency average,
   and the served-by headers (provider, deployment, the gateway's own time);
8. ``accounting``: the request validated against the router's whole chat schema
   (``router_core.api.chat.ChatRequest``, every OpenAI field and its bounds), the
   guards (message count, a token estimate against the deployment's context
   window), the price of the usage and one ledger row per request (SQLite, written
   in batches off the event loop every 50 ms), the drain's in-flight set, open
   streams registered for keep-alives and write watching, and the metrics the
   router adds (upstream duration, time to first token, open streams, cost) with a
   longer access line (key, provider, deployment, cost).

Rungs 1-6 are the issue's own features (auth, limits, metrics, logs); 7 and 8 are
everything else the router does on the same request, each in its cheapest flat
form: no plugin translation (the answer's bytes go out as they came, as the
router's as-sent streams do), no retries of a deployment, no per-attempt
timeouts, no output filters. The top rung is therefore a lower bound of any gateway
with the router's features on this stack.

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
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from bench.loop import run_server
from router_core.api.chat import ChatRequest as FullChatRequest

LEVELS = ("parse", "auth", "limits", "metrics", "log", "deadlines", "routing", "accounting")
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
_decode_full = msgspec.json.Decoder(FullChatRequest).decode
#: The route the benchmark asks for, and the deployments behind it (``routing``).
ROUTE = "m-fast"
#: Consecutive failures that open a deployment's circuit, and for how long.
CIRCUIT_FAILURES, CIRCUIT_OPEN_S = 5, 30.0
MAX_MESSAGES = 1000


class UpstreamFailed(Exception):
    """The deployment failed before anything was sent to the client: try the next."""


@dataclass
class Deployment:
    """One deployment behind a route, with its routing state (``routing``)."""

    id: str
    provider: str
    model: str  # the upstream's own name for it
    window: int = 128_000
    price_in: float = 1.5e-7  # USD per prompt token
    price_out: float = 6e-7
    failures: int = 0
    open_until: float = 0.0
    in_flight: int = 0
    latency: float = 0.0


@dataclass
class KeyState:
    """One key's limits and counters (the ``limits`` rung)."""

    key_hash: str
    id: str = "key-floor"
    models: frozenset[str] = frozenset({ROUTE})
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
    routes: dict[str, list[Deployment]] = field(default_factory=dict)
    ledger: list[tuple[float, str, str, int, int, float]] = field(default_factory=list)
    ledger_db: sqlite3.Connection | None = None
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    streams: dict[int, web.StreamResponse] = field(default_factory=dict)


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
        # the accounting rung's
        self.upstream = Histogram("floor_upstream_seconds", "upstream", ["dep"], registry=reg)
        self.ttft = Histogram("floor_ttft_seconds", "first token", ["dep"], registry=reg)
        self.open_streams = Gauge("floor_open_streams", "open streams", registry=reg)
        self._cost = Counter("floor_cost_usd", "cost", ["model"], registry=reg)
        self._deployments: dict[str, tuple[Any, Any]] = {}
        self._costs: dict[str, Any] = {}

    def deployment(self, dep: str) -> tuple[Any, Any]:
        """The deployment's (upstream duration, time to first token) children."""
        c = self._deployments.get(dep)
        if c is None:
            c = self._deployments[dep] = (self.upstream.labels(dep), self.ttft.labels(dep))
        return c

    def cost(self, model: str) -> Any:
        """The model's cost counter child."""
        c = self._costs.get(model)
        if c is None:
            c = self._costs[model] = self._cost.labels(model)
        return c

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


def _target_body(chat: Any, dep: Deployment | None) -> bytes:
    """The upstream's request body: the client's with the deployment's model name."""
    return _encode(msgspec.structs.replace(chat, model=dep.model if dep else "m-fast"))


def _served_headers(headers: dict[str, str], dep: Deployment, started: float) -> None:
    headers["X-Provider"] = dep.provider
    headers["X-Deployment"] = dep.id
    headers["X-Overhead-Ms"] = f"{(time.monotonic() - started) * 1000:.3f}"


async def _exchange(
    floor: Floor,
    request: web.Request,
    chat: Any,
    headers: dict[str, str],
    dep: Deployment | None,
    started: float,
) -> tuple[web.StreamResponse, Usage | None]:
    assert floor.session is not None
    body = _target_body(chat, dep)
    async with floor.session.post(floor.upstream, data=body, headers=_FORWARD_HEADERS) as up:
        if dep is not None:
            if up.status >= 500:
                raise UpstreamFailed(up.status)  # nothing sent yet: the next deployment
            _served_headers(headers, dep, started)
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
        return out, await _relay(floor, up, out, dep, started)


async def _relay(
    floor: Floor,
    up: aiohttp.ClientResponse,
    out: web.StreamResponse,
    dep: Deployment | None,
    started: float,
) -> Usage | None:
    """The upstream's SSE bytes to the client as they come, their usage read."""
    watched = floor.level >= 8
    if watched:  # keep-alives and write watching find open streams here
        floor.streams[id(out)] = out
        floor.metrics.open_streams.inc()
    buf = bytearray()
    usage = None
    first = True
    try:
        async for data in up.content.iter_any():
            usage = _stream_usage(buf, data) or usage
            await out.write(data)
            if first and watched and dep is not None:
                first = False
                floor.metrics.deployment(dep.id)[1].observe(time.monotonic() - started)
        await out.write_eof()
    finally:
        if watched:
            del floor.streams[id(out)]
            floor.metrics.open_streams.dec()
    return usage


def _route(floor: Floor, state: KeyState | None, model: str) -> list[Deployment] | None:
    """The route's deployments, None when the model is unknown or not the key's."""
    if state is not None and model not in state.models:
        return None
    return floor.routes.get(model)


def _guard(chat: Any, targets: list[Deployment]) -> int | None:
    """The prompt's token estimate, None when the request breaks a guard."""
    if len(chat.messages) > MAX_MESSAGES:
        return None
    chars = 0
    for m in chat.messages:
        if isinstance(m.content, str):
            chars += len(m.content)
    estimate = chars // 4 + 4 * len(chat.messages)
    if estimate + (chat.max_tokens or 0) > targets[0].window:
        return None
    return estimate


async def _attempts(
    floor: Floor,
    request: web.Request,
    chat: Any,
    headers: dict[str, str],
    targets: list[Deployment],
    started: float,
) -> tuple[web.StreamResponse, Usage | None, Deployment]:
    """The route's deployments in order, skipping open circuits, failing over on a
    failure before anything was sent; the circuit, in-flight and latency kept."""
    now = time.monotonic()
    for dep in targets:
        if dep.open_until > now:
            continue
        dep.in_flight += 1
        t0 = time.monotonic()
        try:
            resp, usage = await _exchange(floor, request, chat, headers, dep, started)
        except (UpstreamFailed, aiohttp.ClientConnectionError):
            if request.writer.output_size:
                raise  # the answer has started (or the client left): no failing over
            dep.failures += 1
            if dep.failures >= CIRCUIT_FAILURES:
                dep.open_until = time.monotonic() + CIRCUIT_OPEN_S
            continue
        finally:
            dep.in_flight -= 1
        spent = time.monotonic() - t0
        dep.failures = 0
        dep.latency += 0.2 * (spent - dep.latency)
        if floor.level >= 8:
            floor.metrics.deployment(dep.id)[0].observe(spent)
        return resp, usage, dep
    raise UpstreamFailed("no deployment answered")


async def _serve(
    floor: Floor,
    request: web.Request,
    chat: Any,
    headers: dict[str, str],
    targets: list[Deployment] | None,
    started: float,
) -> tuple[web.StreamResponse, Usage | None, Deployment | None]:
    """The exchange at this level: with the routing rung, over the route's deployments."""
    if targets is None:
        resp, usage = await _exchange(floor, request, chat, headers, None, started)
        return resp, usage, None
    try:
        return await _attempts(floor, request, chat, headers, targets, started)
    except UpstreamFailed:
        return _error(502, "model_error"), None, None


def _decode(floor: Floor, body: bytes) -> Any:
    if floor.level >= 8:
        return _decode_full(body)
    return _decode_request(body)


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
        chat = _decode(floor, await request.read())
    except msgspec.ValidationError:
        return _error(400, "invalid_request")
    targets = None
    if floor.level >= 7:
        targets = _route(floor, state, chat.model)
        if targets is None:
            return _error(404, "invalid_model")
    estimate = 0
    if floor.level >= 8:
        assert targets is not None
        guarded = _guard(chat, targets)
        if guarded is None:
            return _error(400, "invalid_request")
        estimate = guarded + (chat.max_tokens or 0)
    headers: dict[str, str] = {}
    if state is not None and floor.level >= 3:
        estimate = estimate or len(chat.messages) * 16 + (chat.max_tokens or 0)
        if not _admit(state, estimate):
            return _error(429, "rate_limited")
        headers.update(_limit_headers(state))
    return await _handle_admitted(floor, request, chat, headers, state, targets, estimate, started)


async def _handle_admitted(
    floor: Floor,
    request: web.Request,
    chat: Any,
    headers: dict[str, str],
    state: KeyState | None,
    targets: list[Deployment] | None,
    estimate: int,
    started: float,
) -> web.StreamResponse:
    if floor.level >= 6:
        headers["x-request-id"] = f"req-{next(floor.ids)}"
    task = asyncio.current_task() if floor.level >= 8 else None
    if task is not None:
        floor.in_flight.add(task)  # the drain waits for these
    if floor.level >= 4:
        floor.metrics.in_flight.inc()
    usage, dep, status = None, None, 502
    try:
        if floor.level >= 6:
            async with asyncio.timeout(300):
                resp, usage, dep = await _serve(floor, request, chat, headers, targets, started)
        else:
            resp, usage, dep = await _serve(floor, request, chat, headers, targets, started)
        status = resp.status
        return resp
    finally:
        if task is not None:
            floor.in_flight.discard(task)
        if floor.level >= 4:
            floor.metrics.in_flight.dec()
        if state is not None and floor.level >= 3:
            _settle(state, estimate, usage)
        _observe(floor, chat, status, started, usage, state, dep)


def _observe(
    floor: Floor,
    chat: Any,
    status: int,
    started: float,
    usage: Usage | None,
    state: KeyState | None,
    dep: Deployment | None,
) -> None:
    if floor.level >= 4:
        floor.metrics.observe(chat.model, status, time.monotonic() - started, usage)
    cost = None
    if floor.level >= 8 and dep is not None and usage is not None and state is not None:
        cost = usage.prompt_tokens * dep.price_in + usage.completion_tokens * dep.price_out
        floor.metrics.cost(chat.model).inc(cost)
        floor.ledger.append(
            (time.time(), state.id, chat.model, usage.prompt_tokens, usage.completion_tokens, cost)
        )
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
        if floor.level >= 8:
            line["key_id"] = state.id if state else None
            line["provider"] = dep.provider if dep else None
            line["deployment"] = dep.id if dep else None
            line["cost_usd"] = cost
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
        ledger = asyncio.create_task(_flush_ledger(floor)) if floor.ledger_db else None
        gc.freeze()  # as the router does once it listens
        gc.set_threshold(20_000)
        yield
        if flusher is not None:
            flusher.cancel()
            floor.log_file.close()
        if ledger is not None:
            ledger.cancel()


async def _flush_logs(floor: Floor) -> None:
    while True:
        await asyncio.sleep(0.05)
        if floor.log_lines:
            lines, floor.log_lines = floor.log_lines, []
            floor.log_file.write(b"".join(lines))


def _write_ledger(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    with db:
        db.executemany("INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?)", rows)


async def _flush_ledger(floor: Floor) -> None:
    """The ledger's rows into SQLite every 50 ms, in a worker thread."""
    assert floor.ledger_db is not None
    while True:
        await asyncio.sleep(0.05)
        if floor.ledger:
            rows, floor.ledger = floor.ledger, []
            await asyncio.to_thread(_write_ledger, floor.ledger_db, rows)


def _open_ledger(log_path: str) -> sqlite3.Connection:
    path = ":memory:" if log_path == os.devnull else log_path + ".ledger.db"
    db = sqlite3.connect(path, check_same_thread=False)  # used by one thread at a time
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS usage (ts REAL, key_id TEXT, model TEXT,"
        " prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL)"
    )
    return db


def make_app(upstream: str, level: int, log_path: str = os.devnull) -> web.Application:
    """The floor at ``level`` (1-8) forwarding to ``upstream``, its access lines (from
    level 5) appended to ``log_path`` and its ledger (level 8) beside them."""
    app = web.Application()
    floor = Floor(level=level, upstream=upstream.rstrip("/") + "/v1/chat/completions")
    if level >= 5:
        floor.log_file = open(log_path, "ab")  # noqa: SIM115 - closed by _lifecycle
    if level >= 7:
        floor.routes[ROUTE] = [
            Deployment("mock/first", "mock", "m-fast"),
            Deployment("mock/second", "mock", "m-fast"),
        ]
    if level >= 8:
        floor.ledger_db = _open_ledger(log_path)
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
