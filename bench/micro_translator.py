"""``python -m bench.micro_translator``: per-event cost of the OpenAI plugin's hot paths.

Feeds the plugin's byte-exact stream fixtures (already framed into events by the core's
SSE decoder, so only the translator is timed) through a fresh translator per stream,
and times ``build_request`` and ``parse_response`` on the plugin's request and body
fixtures. A synthetic ``long`` stream (role chunk, many one-token content chunks,
finish, usage: the benchmark mock's shape) stands for the common case. Each figure
is the best of several rounds of ``time.perf_counter``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import msgspec
from viberouter_openai import OpenAIExtras, OpenAIProvider

from router_core.framing import SSEDecoder
from router_core.plugin_api import ChatRequest, Deployment, ModelCard, UpstreamEvent

_DATA = Path(__file__).resolve().parent.parent / "plugins" / "viberouter-openai" / "tests" / "data"
_STREAMS = ("oa1", "oa2", "openrouter", "index_collision")
_DEPLOYMENT = Deployment(
    id="openai/gpt-4o", provider="openai", model="gpt-4o", card=ModelCard(id="gpt-4o")
)
_REQUEST = ChatRequest(model="gpt-4o", messages=[], stream=True)


def _events(raw: bytes) -> list[UpstreamEvent]:
    return SSEDecoder().feed(raw)


def _long_stream(tokens: int) -> bytes:
    def chunk(choices: list[object], **extra: object) -> bytes:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_bench",
            "choices": choices,
            **extra,
        }
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    usage = {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens}

    def choice(delta: dict[str, object], finish: str | None = None) -> list[object]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    parts = [chunk(choice({"role": "assistant", "content": ""}))]
    parts += [chunk(choice({"content": "tok "})) for _ in range(tokens)]
    parts.append(chunk(choice({}, "stop")))
    parts.append(chunk([], usage=usage))
    return b"".join(parts) + b"data: [DONE]\n\n"


def _best(fn: Callable[[], object], loops: int, rounds: int) -> float:
    """Best seconds per call over ``rounds`` rounds of ``loops`` calls."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def _stream_runner(provider: OpenAIProvider, events: list[UpstreamEvent]) -> Callable[[], object]:
    def run() -> object:
        translator = provider.stream_translator(_REQUEST, _DEPLOYMENT)
        feed = translator.feed
        for event in events:
            feed(event)
        return translator.close()

    return run


def main(argv: list[str] | None = None) -> None:
    """Print µs per event and per stream, then per build/parse call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--loops", type=int, default=2000, help="calls per round")
    parser.add_argument("-r", "--rounds", type=int, default=7, help="rounds (best is kept)")
    args = parser.parse_args(argv)
    provider = OpenAIProvider()

    streams = {name: (_DATA / f"openai_{name}.sse").read_bytes() for name in _STREAMS}
    streams["long"] = _long_stream(64)
    print(f"{'stream':<18}{'events':>7}{'µs/event':>11}{'µs/stream':>12}")
    for name, raw in streams.items():
        events = _events(raw)
        loops = max(50, args.loops * 8 // len(events))
        per_stream = _best(_stream_runner(provider, events), loops, args.rounds)
        print(
            f"{name:<18}{len(events):>7}{per_stream / len(events) * 1e6:>11.2f}"
            f"{per_stream * 1e6:>12.2f}"
        )

    print(f"\n{'call':<30}{'µs/call':>10}")
    for name in ("tools", "plain"):
        raw = (_DATA / f"openai_request_{name}.json").read_bytes()
        req = msgspec.json.decode(raw, type=ChatRequest)
        extras = msgspec.json.decode(raw, type=OpenAIExtras) if name == "plain" else None
        build = partial(provider.build_request, req, _DEPLOYMENT, extras=extras)
        t = _best(build, args.loops * 4, args.rounds)
        print(f"{'build_request ' + name:<30}{t * 1e6:>10.2f}")
    simple = msgspec.json.decode(
        b'{"model":"m","messages":[{"role":"user","content":"Hello, benchmark!"}],'
        b'"stream":true,"max_tokens":64}',
        type=ChatRequest,
    )
    t = _best(partial(provider.build_request, simple, _DEPLOYMENT), args.loops * 4, args.rounds)
    print(f"{'build_request small stream':<30}{t * 1e6:>10.2f}")
    for name in ("tools", "whitespace"):
        body = (_DATA / f"openai_completion_{name}.json").read_bytes()
        parse = partial(provider.parse_response, _REQUEST, _DEPLOYMENT, body)
        t = _best(parse, args.loops * 4, args.rounds)
        print(f"{'parse_response ' + name:<30}{t * 1e6:>10.2f}")


if __name__ == "__main__":
    main()
