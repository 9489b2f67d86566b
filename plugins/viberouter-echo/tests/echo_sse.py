"""Test helpers for the echo plugin: SSE bytes into events, drive the provider."""

from __future__ import annotations

import msgspec

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChatRequest,
    Deployment,
    LocalResponse,
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


def deployment_for(cards: list[ModelCard], model: str = "echo-1") -> Deployment:
    """A deployment of the echo model with the provider's own card."""
    card = next(c for c in cards if c.id == model)
    return Deployment(id=f"echo/{model}", provider="echo", model=model, card=card)


async def read_body(response: LocalResponse) -> bytes:
    """All bytes of an in-process response."""
    return b"".join([part async for part in response.body])


def translate(translator: StreamTranslator, raw: bytes) -> list[ChatCompletionChunk]:
    """Feed every event of ``raw`` to the translator, then close it."""
    out: list[ChatCompletionChunk] = []
    for event in split_sse(raw):
        out.extend(translator.feed(event))
    out.extend(translator.close())
    return out


def normalised_lines(chunks: list[ChatCompletionChunk]) -> str:
    """Chunks as JSON lines, with the random id and the clock replaced by fixed values."""
    fixed = [msgspec.structs.replace(c, id="chatcmpl-test", created=0) for c in chunks]
    return "".join(json_encode(c).decode() + "\n" for c in fixed)
