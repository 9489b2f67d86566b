"""THE stream iterator: upstream bytes -> framing decoder -> plugin translator ->
canonical chunks. Written once; dispatch reads every upstream stream through it and
``router_core.plugin_testing`` runs plugins through the same code.

:class:`ChunkReader` is the step (one slice of bytes in, the chunks it completes
out); :func:`iter_chunks` drives it over an async or sync iterable of byte slices
and yields each non-empty batch, the closing batch (finish and usage chunks the
translator holds back until the body ends) last. A slice that completes no event,
or events the translator turns into nothing, yields nothing: the first batch is the
first token.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable

from router_core.api.chat import ChatCompletionChunk
from router_core.framing import EventDecoder, make_decoder
from router_core.plugin_api import StreamTranslator

#: Largest event accepted when the caller names no limit (``[upstream] max_event_bytes``).
DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024


class ChunkReader:
    """One stream's decoder and translator, fed byte slices."""

    __slots__ = ("_decoder", "_translator")

    def __init__(
        self,
        framing: str,
        translator: StreamTranslator,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self._decoder: EventDecoder = make_decoder(framing, max_event_bytes)
        self._translator = translator

    def feed(self, raw: bytes) -> list[ChatCompletionChunk]:
        """The chunks the events completed by ``raw`` translate to (maybe none)."""
        events = self._decoder.feed(raw)
        if not events:
            return []
        feed = self._translator.feed
        if len(events) == 1:
            return feed(events[0])
        out: list[ChatCompletionChunk] = []
        for ev in events:
            out.extend(feed(ev))
        return out

    def close(self, *, finish: bool = True) -> list[ChatCompletionChunk]:
        """The body ended: the last events' chunks, then the translator's tail
        (``finish=False`` leaves ``translator.close()`` out, for tests that look at a
        stream without its end)."""
        out: list[ChatCompletionChunk] = []
        for ev in self._decoder.close():
            out.extend(self._translator.feed(ev))
        if finish:
            out.extend(self._translator.close())
        return out


async def iter_chunks(
    body: AsyncIterable[bytes] | Iterable[bytes],
    framing: str,
    translator: StreamTranslator,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> AsyncIterator[list[ChatCompletionChunk]]:
    """Canonical chunk batches from upstream byte slices (see the module docstring).
    RouterErrors of the decoder or translator propagate unchanged."""
    reader = ChunkReader(framing, translator, max_event_bytes)
    if isinstance(body, AsyncIterable):
        async for raw in body:
            chunks = reader.feed(raw)
            if chunks:
                yield chunks
    else:
        for raw in body:
            chunks = reader.feed(raw)
            if chunks:
                yield chunks
    tail = reader.close()
    if tail:
        yield tail


def translate_all(
    body: Iterable[bytes],
    framing: str,
    translator: StreamTranslator,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> list[ChatCompletionChunk]:
    """Every chunk of a whole recorded body, synchronously (fixture tests)."""
    reader = ChunkReader(framing, translator, max_event_bytes)
    out: list[ChatCompletionChunk] = []
    for raw in body:
        out.extend(reader.feed(raw))
    out.extend(reader.close())
    return out
