"""Runs of text-token events taken from an SSE body's bytes (contract 2.8).

An as-sent translator's :class:`~router_core.plugin_api.TokenTemplate` is one event
with its text cut out. :class:`EventTemplate` is its SSE form, which
``stream_iter.ChunkReader`` compares with the bytes; :class:`TokenRun` is the events
in a row that matched it, kept as they came so that an encoder whose frames are those
events (``OpenAIChatStream.feed_run``) writes them without a chunk in between, and
turned into the translator's chunks for any other client.
"""

from __future__ import annotations

import msgspec

from router_core.api.chat import ChatCompletionChunk
from router_core.plugin_api import TokenTemplate

#: A chunk whose upstream event is that chunk as it came, with the event's text: an
#: OpenAI chat encoder may send the text instead of encoding the chunk. A plain tuple:
#: one is made per streamed event, and a tuple costs a fifth of a slotted object.
Forwarded = tuple[ChatCompletionChunk, str]


class EventTemplate:
    """A :class:`TokenTemplate` as the SSE bytes of one event: ``head`` (``data: `` and
    the prefix) and ``tail`` (the suffix and the blank line)."""

    __slots__ = ("head", "source", "tail")

    def __init__(self, source: TokenTemplate) -> None:
        self.source = source
        self.head = b"data: " + source.prefix.encode()
        self.tail = source.suffix.encode() + b"\n\n"

    @staticmethod
    def of(source: TokenTemplate | None) -> EventTemplate | None:
        """The byte form, or None when there is none or it cannot be one SSE line."""
        if source is None:
            return None
        for part in (source.prefix, source.suffix):
            if "\n" in part or "\r" in part:
                return None
        return EventTemplate(source)


class TokenRun:
    """Events in a row that were each the template's event with another text: their
    SSE bytes as they came (``raw``), each one's JSON string as written (``strings``)
    and its text (``texts``)."""

    __slots__ = ("raw", "strings", "template", "texts")

    def __init__(
        self, raw: bytes, strings: list[bytes], texts: list[str], template: EventTemplate
    ) -> None:
        self.raw = raw
        self.strings = strings
        self.texts = texts
        self.template = template

    def forwarded(self) -> list[Forwarded]:
        """Each event as the translator would have returned it (the template's chunk
        with the event's text), with its data."""
        source = self.template.source
        prefix, suffix, chunk = source.prefix, source.suffix, source.chunk
        choice = chunk.choices[0]
        replace = msgspec.structs.replace
        return [
            (
                replace(
                    chunk, choices=[replace(choice, delta=replace(choice.delta, content=text))]
                ),
                prefix + string.decode() + suffix,
            )
            for string, text in zip(self.strings, self.texts, strict=True)
        ]
