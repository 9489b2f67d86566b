"""Test helpers for the echo plugin: split SSE bytes into events, drive the provider."""

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
)

_request_decoder = msgspec.json.Decoder(ChatRequest)


def split_sse(raw: bytes) -> list[UpstreamEvent]:
    """Blank-line separated events; ``data:`` lines joined with ``\\n``; comments dropped."""
    events: list[UpstreamEvent] = []
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        data: list[str] = []
        name = ""
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "event":
                name = value
        if data:
            events.append(UpstreamEvent("\n".join(data), name))
    return events


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
