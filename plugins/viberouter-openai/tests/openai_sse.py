"""Test helpers for the OpenAI plugin: SSE bytes into events, run a translator."""

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
    split_events,
)

_request_decoder = msgspec.json.Decoder(ChatRequest)


def split_sse(raw: bytes) -> list[UpstreamEvent]:
    """The events the core's SSE reader makes of ``raw``."""
    return split_events(raw, "sse")


def request(raw: bytes) -> ChatRequest:
    """Decode a canonical request from fixture bytes."""
    return _request_decoder.decode(raw)


def deployment(model: str = "gpt-4o") -> Deployment:
    """A deployment of ``model`` on a provider instance named ``openai``."""
    return Deployment(
        id=f"openai/{model}", provider="openai", model=model, card=ModelCard(id=model)
    )


def feed_all(translator: StreamTranslator, raw: bytes) -> list[ChatCompletionChunk]:
    """Feed every event of ``raw`` (without closing the translator)."""
    out: list[ChatCompletionChunk] = []
    for event in split_sse(raw):
        out.extend(translator.feed(event))
    return out


def translate(translator: StreamTranslator, raw: bytes) -> list[ChatCompletionChunk]:
    """Feed every event of ``raw``, then close the translator."""
    out = feed_all(translator, raw)
    out.extend(translator.close())
    return out


def as_lines(chunks: list[ChatCompletionChunk]) -> str:
    """Chunks as compact JSON lines, the format of the ``*.expected.jsonl`` fixtures."""
    return "".join(json_encode(c).decode() + "\n" for c in chunks)
