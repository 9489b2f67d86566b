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

When such a translator also offers a token template (contract 2.8,
:class:`~router_core.plugin_api.TokenTemplate`) and an SSE slice starts with no event
pending, the events of that shape are read from the bytes without the decoder or the
translator: the template's head and tail compared, the text between them decoded
(which checks it is one JSON string). Consecutive ones come out as one
:class:`TokenRun`, which holds their bytes as they came; any other event goes through
the decoder and the translator as before, and may change the template.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import msgspec

from router_core.api.chat import ChatCompletionChunk
from router_core.framing import EventDecoder, SSEDecoder, UpstreamEvent, make_decoder
from router_core.plugin_api import AsSentTranslator, StreamTranslator, TokenTemplate
from router_core.token_runs import EventTemplate, Forwarded, TokenRun

#: Largest event accepted when the caller names no limit (``[upstream] max_event_bytes``).
DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024


#: Events forwarded one by one at a stream's start, while it has no token template
#: yet, before the rest of a slice goes to the decoder at once: the role chunk and the
#: first text token, after which a text stream has its template (a stream that opens
#: otherwise may still leave one at the end of a later slice).
TEMPLATE_TRIES = 2

_text = msgspec.json.Decoder(str).decode
_NOT_TEXT = (msgspec.DecodeError, msgspec.ValidationError)

#: One batch of a stream: chunks, some maybe with their event's data, and runs of
#: text-token events read without the translator.
Batch = Sequence[ChatCompletionChunk | Forwarded | TokenRun]


class ChunkReader:
    """One stream's decoder and translator, fed byte slices."""

    __slots__ = (
        "_as_sent",
        "_decoder",
        "_max",
        "_source",
        "_sse",
        "_template",
        "_templates",
        "_translator",
        "_tries",
    )

    def __init__(
        self,
        framing: str,
        translator: StreamTranslator,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        as_sent: AsSentTranslator | None = None,
        *,
        templates: bool = True,
    ) -> None:
        """``templates=False`` ignores the translator's token templates (tests compare)."""
        self._decoder: EventDecoder = make_decoder(framing, max_event_bytes)
        self._translator = translator
        self._as_sent = as_sent
        self._max = max_event_bytes
        decoder = self._decoder
        self._sse = decoder if isinstance(decoder, SSEDecoder) else None
        # Token templates (2.8) need SSE and a translator that offers them.
        self._templates = templates and self._sse is not None and hasattr(as_sent, "token_template")
        self._source: TokenTemplate | None = None
        self._template: EventTemplate | None = None
        self._tries = TEMPLATE_TRIES if self._templates else 0

    def step(self, raw: bytes) -> Batch:
        """:meth:`feed_forwarding` when the reader was made with ``as_sent``, else :meth:`feed`."""
        return self.feed(raw) if self._as_sent is None else self.feed_forwarding(raw)

    def feed_forwarding(self, raw: bytes) -> Batch:
        """As :meth:`feed`, with each event the translator passed through unchanged
        as its chunk and data (:data:`Forwarded`; the reader was made with ``as_sent``),
        and the events its token template matches as :class:`TokenRun` items."""
        if (self._template is not None or self._tries > 0) and b"\r" not in raw:
            sse = self._sse
            assert sse is not None  # templates are only taken for SSE
            if sse.idle():
                return self._runs(raw)
        return self._forward(raw)

    def _forward(self, raw: bytes) -> list[ChatCompletionChunk | Forwarded | TokenRun]:
        """The events ``raw`` completes through the decoder and the translator."""
        events = self._decoder.feed(raw)
        if not events:
            return []
        return self._translate(events)

    def _forward_one(
        self, raw: bytes, start: int, end: int
    ) -> list[ChatCompletionChunk | Forwarded | TokenRun]:
        """:meth:`_forward` of the one whole event at ``raw[start:end]`` (its blank line
        follows) while nothing is pending (``SSEDecoder.feed_event``)."""
        sse = self._sse
        assert sse is not None  # runs are read from SSE only
        events = sse.feed_event(raw, start, end)
        return self._translate(events) if events else []

    def _translate(
        self, events: list[UpstreamEvent]
    ) -> list[ChatCompletionChunk | Forwarded | TokenRun]:
        """``events`` through the translator, each paired with its data when passed
        through; the template the last one left taken up."""
        translator = self._as_sent
        assert translator is not None, "feed_forwarding needs an as-sent translator"
        feed = translator.feed
        out: list[ChatCompletionChunk | Forwarded | TokenRun] = []
        for ev in events:
            chunks = feed(ev)
            if translator.as_sent and len(chunks) == 1:  # the contract's one chunk
                out.append((chunks[0], ev.data))
            elif chunks:
                out.extend(chunks)
        if self._templates:
            source: TokenTemplate | None = getattr(translator, "token_template", None)
            if source is not self._source:
                self._source, self._template = source, EventTemplate.of(source)
        return out

    def _runs(self, raw: bytes) -> list[ChatCompletionChunk | Forwarded | TokenRun]:
        """:meth:`feed_forwarding` of a slice that starts with no event pending: the
        events the template matches taken from the bytes, the others forwarded one
        by one, for the template the next one may leave (while there is none, up to
        :data:`TEMPLATE_TRIES` events, then the rest of the slice at once)."""
        out: list[ChatCompletionChunk | Forwarded | TokenRun] = []
        template = self._template
        head, tail = (template.head, template.tail) if template is not None else (b"", b"")
        cut, keep, limit = len(head), len(tail), self._max
        strings: list[bytes] = []
        texts: list[str] = []
        start = run = 0
        while (end := raw.find(b"\n\n", start)) >= 0:
            stop = end + 2
            if (
                template is not None
                and cut + keep + 2 <= stop - start <= limit
                and raw.startswith(head, start)
                and raw.endswith(tail, start, stop)
            ):
                string = raw[start + cut : stop - keep]
                try:
                    text = _text(string)
                except _NOT_TEXT:
                    text = ""  # not one JSON string: the decoder's and translator's
                if text:
                    strings.append(string)
                    texts.append(text)
                    start = stop
                    continue
            if strings:
                assert template is not None
                out.append(TokenRun(raw[run:start], strings, texts, template))
                strings, texts = [], []
            if template is None:
                if self._tries <= 0:
                    break  # the rest at once
                self._tries -= 1
            out.extend(self._forward_one(raw, start, end))
            start = run = stop
            if self._template is not template:
                if self._template is None:
                    # The text ended (a finish, a tool call): the rest at once, and no
                    # more events one by one; a later slice ending in a text token may
                    # still leave a template.
                    self._tries = 0
                    break
                template = self._template
                head, tail = template.head, template.tail
                cut, keep = len(head), len(tail)
        if strings:
            assert template is not None
            out.append(TokenRun(raw[run:start], strings, texts, template))
        if start < len(raw):
            out.extend(self._forward(raw[start:] if start else raw))
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
