"""``python -m bench.micro_dialect``: CPU per streamed event of the Anthropic front door
against the chat path, in-process (no sockets), best of several rounds.

Paths, each over a synthetic stream of one-token content events (the benchmark mock's
shape) as the router reads it from the socket in one piece per event:

* ``chat``: the chat completions path: OpenAI SSE -> framing decoder -> the openai
  plugin's translator -> the client's ``data:`` frame;
* ``chat relay``: the same as the router runs it: the core's stream reader
  (``stream_iter.ChunkReader``, events passed through unchanged kept with their data
  where the plugin says so, contract 2.6) and the relay's framing with its accounting
  (``streaming.frame_batch`` with the chat dialect's encoder);
* ``anthropic native``: the pass-through path: Anthropic SSE -> framing decoder -> the
  anthropic plugin's usage tap (reads, never writes) -> the upstream bytes as they came;
* ``anthropic translated``: OpenAI SSE -> framing decoder -> translator -> the
  Anthropic dialect's stream encoder (``event:`` + ``data:`` frames);
* ``bare``: the framing decoder alone (what any reading relay pays).

The issue's bar: native pass-through adds no more CPU per event than the chat path.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from viberouter_anthropic.native import AnthropicUsageTap
from viberouter_openai import OpenAIProvider

from router_core.accounting import StreamOutcome
from router_core.dialects.anthropic_messages import MessagesStreamEncoder
from router_core.dialects.openai_chat import OpenAIChatStream
from router_core.framing import SSEDecoder
from router_core.plugin_api import ChatRequest, Deployment, ModelCard, json_encode
from router_core.stream_iter import ChunkReader
from router_core.streaming import frame_batch

_DEPLOYMENT = Deployment(
    id="openai/gpt-4o", provider="openai", model="gpt-4o", card=ModelCard(id="gpt-4o")
)
_REQUEST = ChatRequest(model="gpt-4o", messages=[], stream=True)


def _sse(data: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def openai_stream(tokens: int) -> list[bytes]:
    """One socket read per event: role, ``tokens`` content chunks, finish, usage."""

    def chunk(choices: list[object], **extra: object) -> bytes:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        return _sse({**body, "choices": choices, **extra})

    def choice(delta: dict[str, object], finish: str | None = None) -> list[object]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    usage = {"prompt_tokens": 12, "completion_tokens": tokens, "total_tokens": 12 + tokens}
    reads = [chunk(choice({"role": "assistant", "content": ""}))]
    reads += [chunk(choice({"content": "tok "})) for _ in range(tokens)]
    reads += [chunk(choice({}, "stop")), chunk([], usage=usage), b"data: [DONE]\n\n"]
    return reads


def anthropic_stream(tokens: int) -> list[bytes]:
    """The same answer as Anthropic streams it, one socket read per event."""
    usage = {"input_tokens": 12, "output_tokens": 1}
    start = {"id": "msg_b", "type": "message", "role": "assistant", "model": "m"}
    start |= {"content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    reads = [
        _sse({"type": "message_start", "message": start}, "message_start"),
        _sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        ),
    ]
    delta = {"type": "content_block_delta", "index": 0}
    reads += [
        _sse({**delta, "delta": {"type": "text_delta", "text": "tok "}}, "content_block_delta")
        for _ in range(tokens)
    ]
    reads += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": tokens},
            },
            "message_delta",
        ),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return reads


def _chat(reads: list[bytes], provider: OpenAIProvider) -> Callable[[], object]:
    def run() -> object:
        decoder, translator = SSEDecoder(), provider.stream_translator(_REQUEST, _DEPLOYMENT)
        out = []
        for raw in reads:
            for event in decoder.feed(raw):
                for chunk in translator.feed(event):
                    out.append(b"data: " + json_encode(chunk) + b"\n\n")
        return out

    return run


def _relay(reads: list[bytes], provider: OpenAIProvider) -> Callable[[], object]:
    # getattr: the same script measures a checkout from before contract 2.6 (bench.ab's A)
    as_sent_translator = getattr(provider, "as_sent_translator", None)

    def run() -> object:
        as_sent = as_sent_translator(_REQUEST, _DEPLOYMENT) if as_sent_translator else None
        if as_sent is None:
            reader = ChunkReader("sse", provider.stream_translator(_REQUEST, _DEPLOYMENT))
            step = reader.feed
        else:
            reader = ChunkReader("sse", as_sent, as_sent=as_sent)
            step = reader.feed_forwarding
        encoder, out = OpenAIChatStream(False), StreamOutcome()
        frames = [frame_batch(step(raw), encoder, out) for raw in reads]
        frames.append(frame_batch(reader.close(), encoder, out))
        return frames

    return run


def _translated(reads: list[bytes], provider: OpenAIProvider) -> Callable[[], object]:
    def run() -> object:
        decoder, translator = SSEDecoder(), provider.stream_translator(_REQUEST, _DEPLOYMENT)
        encoder = MessagesStreamEncoder(message_id="msg_b")
        out = []
        for raw in reads:
            for event in decoder.feed(raw):
                for chunk in translator.feed(event):
                    out.append(encoder.feed(chunk))
        out.append(encoder.close())
        return out

    return run


def _native(reads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        decoder, tap = SSEDecoder(), AnthropicUsageTap()
        out = []
        for raw in reads:
            for event in decoder.feed(raw):
                tap.feed(event)
            out.append(raw)
        tap.close()
        return tap.usage()

    return run


def _bare(reads: list[bytes]) -> Callable[[], object]:
    def run() -> object:
        decoder = SSEDecoder()
        return [decoder.feed(raw) for raw in reads]

    return run


def _best(fn: Callable[[], object], loops: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def measure(tokens: int = 64, loops: int = 300, rounds: int = 7) -> dict[str, float]:
    """µs per event of each path (see the module docstring)."""
    provider = OpenAIProvider()
    oa, an = openai_stream(tokens), anthropic_stream(tokens)
    paths: dict[str, tuple[Callable[[], object], int]] = {
        "bare (framing only)": (_bare(oa), len(oa)),
        "chat": (_chat(oa, provider), len(oa)),
        "chat relay": (_relay(oa, provider), len(oa)),
        "anthropic native": (_native(an), len(an)),
        "anthropic translated": (_translated(oa, provider), len(oa)),
    }
    return {name: _best(fn, loops, rounds) / n * 1e6 for name, (fn, n) in paths.items()}


def main(argv: list[str] | None = None) -> None:
    """Print µs per event per path, and native against chat."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64, help="content events per stream")
    parser.add_argument("-n", "--loops", type=int, default=300, help="streams per round")
    parser.add_argument("-r", "--rounds", type=int, default=7, help="rounds (best is kept)")
    parser.add_argument("--json", action="store_true", help="one JSON object (for bench.run)")
    args = parser.parse_args(argv)
    figures = measure(args.tokens, args.loops, args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'path':<24}{'µs/event':>10}")
    for name, us in figures.items():
        print(f"{name:<24}{us:>10.2f}")
    ratio = figures["anthropic native"] / figures["chat"]
    print(f"\nnative pass-through / chat path: {ratio:.2f}x CPU per event")


if __name__ == "__main__":
    main()
