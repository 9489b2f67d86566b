"""THE stream iterator: upstream bytes -> framing decoder -> plugin translator ->
canonical chunks. Written once; dispatch reads every upstream stream through it and
``router_core.plugin_testing`` runs plugins through the same code.

:class:`ChunkReader` is the step (one slice of bytes in, the chunks it completes
out); :class:`Batches` drives it over a body's slices and returns each non-empty
batch, the closing batch (finish and usage chunks the translator holds back until
the body ends) last. A slice that completes no event, or events the translator
turns into nothing, gives no batch: the first batch is the first token.

With a translator that says which events it passed through unchanged (contract 2.6,
:class:`~router_core.plugin_api.AsSentTranslator`), such an event's chunk comes out
paired with the event's data (:data:`Forwarded`), so an encoder whose frames are
OpenAI chat chunks can send the data instead of encoding the chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from router_core.api.chat import ChatCompletionChunk
from router_core.framing import EventDecoder, make_decoder
from router_core.plugin_api import AsSentTranslator, StreamTranslator

#: Largest event accepted when the caller names no limit (``[upstream] max_event_bytes``).
DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024


#: A chunk whose upstream event is that chunk as it came, with the event's text: an
#: OpenAI chat encoder may send the text instead of encoding the chunk. A plain tuple:
#: one is made per streamed event, and a tuple costs a fifth of a slotted object.
Forwarded = tuple[ChatCompletionChunk, str]

#: One batch of a stream: chunks, some maybe with their event's data.
Batch = Sequence[ChatCompletionChunk | Forwarded]


class ChunkReader:
    """One stream's decoder and translator, fed byte slices."""

    __slots__ = ("_as_sent", "_decoder", "_translator")

    def __init__(
        self,
        framing: str,
        translator: StreamTranslator,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        as_sent: AsSentTranslator | None = None,
    ) -> None:
        self._decoder: EventDecoder = make_decoder(framing, max_event_bytes)
        self._translator = translator
        self._as_sent = as_sent

    def step(self, raw: bytes) -> Batch:
        """:meth:`feed_forwarding` when the reader was made with ``as_sent``, else :meth:`feed`."""
        return self.feed(raw) if self._as_sent is None else self.feed_forwarding(raw)

    def feed_forwarding(self, raw: bytes) -> Batch:
        """As :meth:`feed`, with each event the translator passed through unchanged
        as its chunk and data (:data:`Forwarded`; the reader was made with ``as_sent``)."""
        events = self._decoder.feed(raw)
        if not events:
            return ()
        translator = self._as_sent
        assert translator is not None, "feed_forwarding needs an as-sent translator"
        feed = translator.feed
        out: list[ChatCompletionChunk | Forwarded] = []
        for ev in events:
            chunks = feed(ev)
            if translator.as_sent and len(chunks) == 1:  # the contract's one chunk
                out.append((chunks[0], ev.data))
            elif chunks:
                out.extend(chunks)
        return out

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


class ChunkSource(Protocol):
    """Where a stream's bytes come from (``upstream.UpstreamResponse``)."""

    async def read_chunk(self) -> bytes:
        """The next slice of the body, ``b""`` at its end."""
        ...


class Batches:
    """The batches of one stream body: each slice ``source`` reads goes through
    ``reader``, and every non-empty batch is one ``__anext__``, the closing batch
    (finish and usage chunks the translator holds back until the body ends) last. A
    coroutine per batch, not a generator over a generator: a stream resumes it for
    every batch. The caller may have fed ``reader`` the bytes that were already
    there (``exchange.stream_exchange``): what those left incomplete is completed by
    the first slices read here. RouterErrors of the source, decoder or translator
    propagate unchanged."""

    __slots__ = ("_done", "_reader", "_source")

    def __init__(self, reader: ChunkReader, source: ChunkSource) -> None:
        self._reader = reader
        self._source = source
        self._done = False

    def __aiter__(self) -> Batches:
        return self

    async def __anext__(self) -> Batch:
        if self._done:
            raise StopAsyncIteration
        read, step = self._source.read_chunk, self._reader.step
        while raw := await read():
            chunks = step(raw)
            if chunks:
                return chunks
        self._done = True
        tail = self._reader.close()
        if tail:
            return tail
        raise StopAsyncIteration


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
