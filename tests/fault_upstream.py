"""A fault-injecting fake OpenAI chat completions upstream, on a real loopback port,
and a rig: the real router in front of three of them (providers a, b, c).

It speaks the OpenAI wire format (JSON completions; SSE chunks ending in
``data: [DONE]``; ``{"error": {...}}`` bodies) and answers each request with the
next scripted behaviour, so a test can make one deployment fail in a chosen way::

    async with FaultUpstream() as up:
        up.script(Step("status", status=503), Step("ok"))
        ... point a provider's base_url at up.base_url ...
        assert up.attempts == 2
        await up.wait_idle()          # no request left hanging on the fake's side

Behaviours (``Step.kind``): ``ok``; ``status`` (``status`` with an OpenAI error body,
``retry_after`` as the Retry-After header); ``hang`` (never answers); ``reset`` (the
connection is aborted before any byte); ``reset_after_headers`` (200 and headers,
then aborted before the first chunk); ``reset_after_first`` (aborted after the first
content chunk); ``malformed`` (200 whose JSON / SSE data is not JSON); ``slow_first``
(``delay`` seconds before the first token: before the headers for JSON, after them
for SSE); ``slow_between`` (``delay`` seconds between SSE chunks); ``trickle`` (a
200 JSON answer whose body arrives one byte every ``delay`` seconds); ``partial_first``
(SSE: after ``delay`` seconds the first bytes of an event that never completes, then
silence); ``quote_key`` (400 whose message quotes the Authorization header it got);
``quote_key_midstream`` (SSE: one content chunk, then an in-band error event quoting it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import openai
from aiohttp import web
from openai.types.chat import ChatCompletionMessageParam

from router_core.dispatch import Dispatcher
from router_core.limits.base import RateLimits
from router_core.settings import Settings
from tests.router_harness import RunningRouter, router_settings, start_router
from tests.services import free_port

Kind = Literal[
    "ok",
    "status",
    "hang",
    "reset",
    "reset_after_headers",
    "reset_after_first",
    "malformed",
    "slow_first",
    "slow_between",
    "trickle",
    "partial_first",
    "quote_key",
    "quote_key_midstream",
]

API_KEY = "k"
_ERROR_TYPES = {429: "requests", 500: "server_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class Step:
    """One scripted answer."""

    kind: Kind = "ok"
    status: int = 500
    delay: float = 0.0
    retry_after: str | None = None


@dataclass
class Received:
    """What the fake saw of one request."""

    model: str
    stream: bool
    at: float


@dataclass
class FaultUpstream:
    """The fake server; ``default`` answers once the script is used up."""

    text: str = "Hello from the fault upstream"
    default: Step = Step("ok")
    api_key: str = API_KEY
    received: list[Received] = field(default_factory=list)
    active: int = 0  # requests whose handler has not finished
    _script: deque[Step] = field(default_factory=deque)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def attempts(self) -> int:
        """Requests received so far."""
        return len(self.received)

    def script(self, *steps: Step) -> None:
        """Queue behaviours for the next requests, in order."""
        self._script.extend(steps)

    async def start(self) -> FaultUpstream:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        # handler_cancellation: a request whose client went away stops here too
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FaultUpstream:
        return await self.start()

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_idle(self) -> None:
        """Wait (5 s at most) until no handler is running: the router closed what it
        opened, even for hung or half-read answers."""
        try:
            async with asyncio.timeout(5.0):
                while self.active:
                    self._idle.clear()
                    await self._idle.wait()
        except TimeoutError:
            raise AssertionError(f"{self.active} upstream request(s) still open") from None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.active += 1
        try:
            return await self._answer(request)
        finally:
            self.active -= 1
            if not self.active:
                self._idle.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.", "")
        model = body.get("model")
        if not isinstance(model, str) or not isinstance(body.get("messages"), list):
            return _error(400, "You must provide a model parameter.", "invalid_request_error")
        stream = bool(body.get("stream"))
        self.received.append(Received(model, stream, time.monotonic()))
        step = self._script.popleft() if self._script else self.default
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        k = step.kind
        if k == "status":
            headers = {"retry-after": step.retry_after} if step.retry_after is not None else {}
            kind = _ERROR_TYPES.get(step.status, "server_error")
            code = "rate_limit_exceeded" if step.status == 429 else None
            return _error(step.status, "The fault upstream was told to fail.", kind, code, headers)
        if k == "hang":
            await asyncio.Event().wait()
        if k == "quote_key":
            quoted = request.headers.get("Authorization", "")
            return _error(400, f"Incorrect API key provided: {quoted}.", "invalid_request_error")
        if k == "trickle":
            return await _trickle(request, _completion(model, self.text), step.delay)
        if k == "reset":
            _abort(request)
            return web.Response()  # never sent: the transport is gone
        if not stream:
            if k == "slow_first":
                await asyncio.sleep(step.delay)
            if k == "malformed":
                return web.Response(body=b'{"id": "chatcmpl-x", "choices": [', content_type=_JSON)
            return web.json_response(_completion(model, self.text))
        return await self._stream(request, step, model, usage)

    async def _stream(
        self, request: web.Request, step: Step, model: str, usage: bool
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)
        k = step.kind
        if k == "reset_after_headers":
            await resp.write(b": connected\n\n")
            _abort(request)
            return resp
        if k == "malformed":
            await resp.write(b"data: {not json\n\n")
            await resp.write_eof()
            return resp
        if k == "slow_first":
            await asyncio.sleep(step.delay)
        if k == "partial_first":
            await asyncio.sleep(step.delay)
            await resp.write(b'data: {"id":"chatcmpl-fault","object":"chat.comp')
            await asyncio.Event().wait()
        if k == "quote_key_midstream":
            await resp.write(_chunks(model, self.text, usage)[1])
            await asyncio.sleep(step.delay)  # the chunk goes out (the stream commits) first
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            err = {"message": f"Key {key} is not allowed", "type": "invalid_request", "code": 400}
            await resp.write(b"data: " + json.dumps({"error": err}).encode() + b"\n\n")
            await resp.write_eof()
            return resp
        for i, frame in enumerate(_chunks(model, self.text, usage)):
            if i and k == "slow_between":
                await asyncio.sleep(step.delay)
            await resp.write(frame)
            if i == 1 and k == "reset_after_first":
                _abort(request)
                return resp
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


_JSON = "application/json"
_CREATED = 1_700_000_000


async def _trickle(request: web.Request, doc: dict[str, Any], delay: float) -> web.StreamResponse:
    body = json.dumps(doc).encode()
    resp = web.StreamResponse(headers={"Content-Type": _JSON, "Content-Length": str(len(body))})
    await resp.prepare(request)
    for i in range(len(body)):
        await resp.write(body[i : i + 1])
        await asyncio.sleep(delay)
    await resp.write_eof()
    return resp


def _abort(request: web.Request) -> None:
    transport = request.transport
    assert transport is not None
    transport.abort()


def _error(
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    err = {"message": message, "type": kind, "param": None, "code": code}
    return web.json_response({"error": err}, status=status, headers=headers)


def _completion(model: str, text: str) -> dict[str, Any]:
    words = len(text.split())
    return {
        "id": "chatcmpl-fault",
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": words, "total_tokens": 5 + words},
        "system_fingerprint": "fp_fault",
    }


def _frame(model: str, choices: list[dict[str, Any]], **extra: Any) -> bytes:
    doc = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": model,
        "system_fingerprint": "fp_fault",
        "choices": choices,
        **extra,
    }
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"


def _chunks(model: str, text: str, usage: bool) -> list[bytes]:
    """Role chunk, one chunk per word, finish chunk, usage chunk (when asked)."""

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    words = text.split(" ")
    frames = [_frame(model, choice({"role": "assistant", "content": "", "refusal": None}))]
    frames += [
        _frame(model, choice({"content": w if i == 0 else " " + w})) for i, w in enumerate(words)
    ]
    frames.append(_frame(model, choice({}, "stop")))
    if usage:
        n = len(words)
        frames.append(
            _frame(
                model,
                [],
                usage={"prompt_tokens": 5, "completion_tokens": n, "total_tokens": 5 + n},
            )
        )
    return frames


def provider_toml(name: str, up: FaultUpstream, *models: str, model_extra: str = "") -> str:
    """Config for an ``openai`` provider ``name`` pointed at ``up``, offering ``models``
    (each declared under ``[providers.NAME.models."M"]``, with ``model_extra`` lines)."""
    ids = list(models or ("m1",))
    lines = [
        f"[providers.{name}]",
        'plugin = "openai"',
        f'settings = {{ base_url = "{up.base_url}", api_key = "{up.api_key}", '
        f"models = {json.dumps(ids)} }}",
    ]
    for m in ids:
        lines.append(f'[providers.{name}.models."{m}"]')
        if model_extra:
            lines.append(model_extra)
    return "\n".join(lines) + "\n"


async def start_routed(settings: Settings, **key_kwargs: Any) -> RunningRouter:
    """The real router (tests/router_harness.py), its dispatcher using ``[routing]``."""
    router = await start_router(settings, **key_kwargs)
    st = router.state
    if st.dispatcher.routing is not settings.routing:
        # app.build_state does not pass routing= yet (requested from its owner)
        st.dispatcher = Dispatcher(
            st.upstream, settings.upstream, st.metrics, routing=settings.routing
        )
    return router


# ---------------------------------------------------------------- the rig

#: provider name -> the model it offers (deployment "<provider>/<model>")
MODELS = {"a": "m1", "b": "m2", "c": "m3"}
SMART = '[routes.smart]\ndeployments = ["a/m1", "b/m2"]\n'
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


@dataclass
class Rig:
    """A running router, its SDK client and the fakes behind providers a, b, c."""

    router: RunningRouter
    client: openai.AsyncOpenAI
    ups: dict[str, FaultUpstream]

    @property
    def a(self) -> FaultUpstream:
        return self.ups["a"]

    @property
    def b(self) -> FaultUpstream:
        return self.ups["b"]

    @property
    def c(self) -> FaultUpstream:
        return self.ups["c"]

    def attempts(self) -> dict[str, int]:
        """Requests each fake received."""
        return {name: up.attempts for name, up in self.ups.items()}

    async def create(self, **kw: Any) -> tuple[Any, dict[str, str]]:
        """A non-streamed completion through the SDK and the response headers."""
        kw.setdefault("model", "smart")
        kw.setdefault("messages", HELLO)
        raw = await self.client.chat.completions.with_raw_response.create(**kw)
        return raw.parse(), dict(raw.headers)

    async def stream(self, **kw: Any) -> tuple[str, dict[str, str], BaseException | None]:
        """A streamed completion: text received, headers, and the error the SDK raised."""
        kw.setdefault("model", "smart")
        kw.setdefault("messages", HELLO)
        raw = await self.client.chat.completions.with_raw_response.create(stream=True, **kw)
        text = ""
        err: BaseException | None = None
        try:
            async for chunk in raw.parse():
                for c in chunk.choices:
                    text += c.delta.content or ""
        except openai.APIError as exc:
            err = exc
        return text, dict(raw.headers), err

    async def close(self) -> None:
        """Stop the router and close the SDK client."""
        await self.client.close()
        await self.router.stop()

    async def assert_clean(self) -> None:
        """Nothing leaked: no request in flight (router, deployments, fakes) and the
        key's single concurrency slot is free again."""
        state = self.router.state
        for up in self.ups.values():
            await up.wait_idle()
        for _ in range(300):
            gauge = state.metrics.registry.get_sample_value("viberouter_in_flight_requests")
            if gauge == 0:
                break
            await asyncio.sleep(0.01)
        assert gauge == 0
        for p, m in MODELS.items():
            assert state.dispatcher.balancer.in_flight(f"{p}/{m}") == 0
        # the key has concurrency=1: a leaked slot would refuse this request for good
        last: BaseException | None = None
        for _ in range(100):
            try:
                await self.client.chat.completions.create(model="echo", messages=HELLO)
                return
            except openai.RateLimitError as exc:
                last = exc
                await asyncio.sleep(0.02)
        raise AssertionError(f"concurrency slot still held: {last}")


def model_extras(**timeouts: dict[str, float]) -> dict[str, str]:
    """``model_extra`` lines per provider setting that deployment's timeouts."""
    out: dict[str, str] = {}
    for provider, values in timeouts.items():
        inner = ", ".join(f"{k} = {v}" for k, v in values.items())
        out[provider] = f"timeouts = {{ {inner} }}"
    return out


async def start_rig(
    tmp_path: Path,
    ups: dict[str, FaultUpstream],
    *,
    routes: str = SMART,
    extra: str = "",
    model_extra: dict[str, str] | None = None,
    **router_kw: Any,
) -> Rig:
    """Providers a, b, c (openai plugin) on the fakes, ``routes`` and ``extra`` config."""
    toml = "".join(
        provider_toml(p, ups[p], MODELS[p], model_extra=(model_extra or {}).get(p, ""))
        for p in MODELS
    )
    router_kw.setdefault("retries", 1)
    settings = router_settings(tmp_path, extra_toml="\n" + toml + routes + extra, **router_kw)
    router = await start_routed(settings, limits=RateLimits(concurrency=1))
    client = openai.AsyncOpenAI(base_url=router.base_url, api_key=router.key, max_retries=0)
    return Rig(router, client, ups)


async def fakes() -> AsyncIterator[dict[str, FaultUpstream]]:
    """Three started fault upstreams, stopped afterwards (use as a fixture body)."""
    ups = {p: await FaultUpstream(text=f"served by {p}").start() for p in MODELS}
    try:
        yield ups
    finally:
        for up in ups.values():
            await up.stop()
