"""Helpers for the translator tests: split NDJSON the way the core does, run a
translator over fixture bytes, render chunks as JSON lines."""

from __future__ import annotations

import msgspec
from router_core.plugin_api import (
    ChatCompletionChunk,
    ChatRequest,
    Deployment,
    ModelCard,
    StreamTranslator,
    UpstreamEvent,
    json_encode,
)

_request_decoder = msgspec.json.Decoder(ChatRequest)


def split_ndjson(raw: bytes) -> list[UpstreamEvent]:
    """One event per non-empty line, as the core's NDJSON framing delivers them."""
    return [UpstreamEvent(line.decode("utf-8")) for line in raw.split(b"\n") if line.strip()]


def request(raw: bytes) -> ChatRequest:
    """A canonical request from fixture bytes (validated like the core does)."""
    return _request_decoder.decode(raw)


def deployment(model: str = "reverse-1") -> Deployment:
    """A deployment of ``model`` on a provider instance named ``rev``."""
    return Deployment(id=f"rev/{model}", provider="rev", model=model, card=ModelCard(id=model))


def translate(translator: StreamTranslator, raw: bytes) -> list[ChatCompletionChunk]:
    """Feed every line of ``raw``, then close the translator."""
    out: list[ChatCompletionChunk] = []
    for event in split_ndjson(raw):
        out.extend(translator.feed(event))
    out.extend(translator.close())
    return out


def as_lines(chunks: list[ChatCompletionChunk]) -> str:
    """Chunks as compact JSON lines: the format of the ``*.expected.jsonl`` fixtures."""
    return "".join(json_encode(c).decode() + "\n" for c in chunks)
