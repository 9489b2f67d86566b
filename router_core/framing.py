"""Framing readers: upstream bytes -> events (SSE, NDJSON).

Readers are incremental: bytes arrive in arbitrary slices, so they buffer bytes and
split on line breaks before decoding. ``\r`` and ``\n`` never occur inside a
multi-byte UTF-8 sequence, so decoding whole lines never splits a character.
Plugin tests reach them through ``router_core.plugin_testing`` (fixtures, the stream loop).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from router_core.errors import ModelError


class UpstreamEvent(msgspec.Struct, frozen=True, gc=False):
    """One decoded upstream event: an SSE event (``event`` is its ``event:`` field,
    ``""`` when absent) or one NDJSON line (``event`` is ``""``). ``data`` is text
    decoded from complete UTF-8 bytes, several ``data:`` lines joined with ``\n``."""

    data: str
    event: str = ""


class EventDecoder(Protocol):
    def feed(self, data: bytes) -> list[UpstreamEvent]: ...
    def close(self) -> list[UpstreamEvent]: ...


def _oversized(detail: str) -> ModelError:
    return ModelError("The model provider sent an oversized event", detail=detail, retryable=False)


class SSEDecoder:
    """WHATWG server-sent events: comments dropped, ``data:`` lines joined with
    ``\\n``, split on the first colon with one leading space removed; an event is
    dispatched at a blank line; CRLF, LF and CR all end a line."""

    __slots__ = ("_buf", "_data", "_event", "_max", "_pending_cr", "_size")

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._max = max_event_bytes
        self._size = 0
        self._pending_cr = False

    def idle(self) -> bool:
        """Whether no part of an event is pending (the bytes fed so far ended one)."""
        return not (self._buf or self._data or self._event or self._pending_cr)

    def feed_event(self, data: bytes, start: int, end: int) -> list[UpstreamEvent]:
        """:meth:`feed` of one whole event block, ``data[start:end]`` with the blank line
        after it, while nothing is pending (:meth:`idle`) and the data has LF line ends."""
        out: list[UpstreamEvent] = []
        self._block(data, start, end, out)
        return out

    def _block(self, data: bytes, start: int, end: int, out: list[UpstreamEvent]) -> None:
        """The event of the whole block ``data[start:end]`` (LF line ends, nothing
        pending) into ``out``. A lone ``data:`` line, the common event of
        OpenAI-compatible servers, is taken without the line loop."""
        if data.startswith(b"data: ", start) and data.find(b"\n", start, end) < 0:
            if end - start - 6 > self._max:
                raise _oversized(f"SSE event larger than {self._max} bytes")
            out.append(UpstreamEvent(data[start + 6 : end].decode("utf-8", "replace")))
            return
        for line in data[start:end].split(b"\n"):
            self._line(line, out)
        self._line(b"", out)

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        if not data:
            return []
        if self._buf or self._data or self._event or self._pending_cr or b"\r" in data:
            return self._feed_lines(data)
        # Nothing pending and LF line ends: whole events first, block by block; a tail
        # without its blank line, line by line.
        out: list[UpstreamEvent] = []
        block = self._block
        start = 0
        while (end := data.find(b"\n\n", start)) >= 0:
            block(data, start, end, out)
            start = end + 2
        if start < len(data):
            out.extend(self._feed_lines(data[start:] if start else data))
        return out

    def _feed_lines(self, data: bytes) -> list[UpstreamEvent]:
        if self._pending_cr and data.startswith(b"\n"):
            # the previous slice ended with the CR of a CRLF pair
            data = data[1:]
        self._pending_cr = False
        buf = self._buf + data if self._buf else data
        out: list[UpstreamEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, nl if nl >= 0 else n)
            if cr >= 0:
                end = cr
                nxt = cr + 1
                if nxt < n and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            elif nl >= 0:
                end, nxt = nl, nl + 1
            else:
                break
            self._line(buf[start:end], out)
            start = nxt
        self._buf = buf[start:]
        if len(self._buf) + self._size > self._max:
            raise ModelError(
                "The model provider sent an oversized event",
                detail=f"SSE event larger than {self._max} bytes",
                retryable=False,
            )
        return out

    def _line(self, line: bytes, out: list[UpstreamEvent]) -> None:
        if not line:
            if self._data:
                out.append(UpstreamEvent("\n".join(self._data), self._event))
            self._data = []
            self._event = ""
            self._size = 0
            return
        if line[0] == 0x3A:  # ':' comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._size += len(value)
            if self._size > self._max:
                raise ModelError(
                    "The model provider sent an oversized event",
                    detail=f"SSE event larger than {self._max} bytes",
                    retryable=False,
                )
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        # id:, retry: and unknown fields carry nothing we use

    def close(self) -> list[UpstreamEvent]:
        out: list[UpstreamEvent] = []
        if self._buf:
            self._line(self._buf, out)
            self._buf = b""
        # a final event without its blank line still counts (some servers just close)
        self._line(b"", out)
        return out


class NDJSONDecoder:
    """Newline-delimited JSON: one event per non-empty line."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._buf = b""
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        buf = self._buf + data if self._buf else data
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise ModelError(
                "The model provider sent an oversized event",
                detail=f"NDJSON line larger than {self._max} bytes",
                retryable=False,
            )
        return [
            UpstreamEvent(s.decode("utf-8", "replace")) for line in lines if (s := line.strip())
        ]

    def close(self) -> list[UpstreamEvent]:
        rest, self._buf = self._buf.strip(), b""
        return [UpstreamEvent(rest.decode("utf-8", "replace"))] if rest else []


def make_decoder(framing: str, max_event_bytes: int) -> EventDecoder:
    if framing == "ndjson":
        return NDJSONDecoder(max_event_bytes)
    return SSEDecoder(max_event_bytes)
