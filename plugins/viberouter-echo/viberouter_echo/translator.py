"""Stream translator for the echo upstream: its chunks already are canonical."""

from __future__ import annotations

from router_core.plugin_api import (
    ChatCompletionChunk,
    ModelError,
    UpstreamEvent,
    decode_chunk,
    json_decode,
    upstream_message,
)


class EchoStreamTranslator:
    """Passes canonical chunks through; turns an in-band error into ``ModelError`` and
    a stream that ends without a finish chunk into ``ModelError`` as well."""

    __slots__ = ("_done", "_finished")

    def __init__(self) -> None:
        self._finished = False
        self._done = False

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one SSE event."""
        data = event.data
        if data == "[DONE]":
            self._done = True
            return []
        try:
            chunk = decode_chunk(data)
        except ModelError:
            raise _in_band_error(data) from None
        if any(choice.finish_reason is not None for choice in chunk.choices):
            self._finished = True
        return [chunk]

    def close(self) -> list[ChatCompletionChunk]:
        """The body ended: fine after a finish chunk, ``ModelError`` otherwise."""
        if not self._finished:
            raise ModelError(
                "The model provider's stream ended early",
                detail="echo stream ended without a finish_reason"
                + ("" if self._done else " or [DONE]"),
            )
        return []


def _in_band_error(data: str) -> ModelError:
    # Only called when a chunk did not decode: either an error payload or garbage.
    doc = json_decode(data)
    if isinstance(doc, dict) and doc.get("error"):
        message = upstream_message(data.encode())
        return ModelError(detail=f"echo upstream error in stream: {message}")
    return ModelError("The model provider sent a malformed chunk", detail=data[:500])
