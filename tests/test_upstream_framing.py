"""SSE and NDJSON readers: every fixture split at every byte offset (and byte by
byte) decodes to the same events, with no U+FFFD from split UTF-8 characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_core.errors import ModelError
from router_core.framing import NDJSONDecoder, SSEDecoder, make_decoder
from router_core.plugin_api import UpstreamEvent

DATA = Path(__file__).parent / "data"
CASES = [
    ("framing_openai.sse", "sse", 5),
    ("framing_gemini_crlf.sse", "sse", 2),
    ("framing_anthropic.sse", "sse", 4),
    ("framing_ollama.ndjson", "ndjson", 3),
]


def decode_all(framing: str, pieces: list[bytes]) -> list[UpstreamEvent]:
    dec = make_decoder(framing, 1 << 20)
    out: list[UpstreamEvent] = []
    for p in pieces:
        out.extend(dec.feed(p))
    out.extend(dec.close())
    return out


@pytest.mark.parametrize(("name", "framing", "count"), CASES)
def test_every_split_gives_the_same_events(name: str, framing: str, count: int) -> None:
    raw = (DATA / name).read_bytes()
    whole = decode_all(framing, [raw])
    assert len(whole) == count
    assert all("\ufffd" not in e.data for e in whole)
    for i in range(len(raw) + 1):
        assert decode_all(framing, [raw[:i], raw[i:]]) == whole, f"split at {i}"
    assert decode_all(framing, [raw[i : i + 1] for i in range(len(raw))]) == whole


def test_sse_fields() -> None:
    events = decode_all("sse", [(DATA / "framing_anthropic.sse").read_bytes()])
    assert [e.event for e in events] == [
        "message_start",
        "ping",
        "content_block_delta",
        "message_stop",
    ]
    assert events[2].data == '{"type":"content_block_delta","delta":{"text":"café: \\"x\\""}}'
    openai = decode_all("sse", [(DATA / "framing_openai.sse").read_bytes()])
    assert openai[-1].data == "[DONE]"  # the comment line was dropped, not an event
    assert "Olá" in openai[2].data


def test_multiline_data_and_colon_rules() -> None:
    raw = b"data:a: b\ndata:  two\nid: 7\nretry: 10\n\n"
    events = decode_all("sse", [raw])
    assert events == [UpstreamEvent("a: b\n two", "")]


def test_final_event_without_blank_line() -> None:
    assert decode_all("sse", [b"data: {}"]) == [UpstreamEvent("{}", "")]
    assert decode_all("ndjson", [b'{"a":1}']) == [UpstreamEvent('{"a":1}', "")]


def test_oversized_event_is_refused() -> None:
    dec = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ModelError):
        dec.feed(b"data: " + b"x" * 200)
    dec2 = NDJSONDecoder(max_event_bytes=100)
    with pytest.raises(ModelError):
        dec2.feed(b"{" + b"x" * 200)
    dec3 = SSEDecoder(max_event_bytes=100)
    with pytest.raises(ModelError):
        for _ in range(10):
            dec3.feed(b"data: " + b"y" * 30 + b"\n")


class _LineByLine(SSEDecoder):
    """The SSE reader without its whole-event fast path: the reference."""

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        return self._feed_lines(data)


# Every shape the fast path must hand to the line reader, or read alike.
_MIXED = (
    b"data: {}\n\n"
    b"event: ping\ndata: p\n\n"  # a field before the data line
    b": comment\n\n"
    b"data:no-space\n\n"
    b"data: two\ndata: lines\n\n"
    b"\n\n\ndata: after blanks\n\n"
    b"id: 9\n\n"
    b"data: caf\xc3\xa9\n\n"
    b"event: only-the-name\n\n"
    b"data: \n\n"
    b"data: tail without its blank line\n"
)


def _events(decoder: SSEDecoder, pieces: list[bytes]) -> list[UpstreamEvent]:
    out: list[UpstreamEvent] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    return out + decoder.close()


def test_whole_event_fast_path_reads_like_the_line_reader() -> None:
    whole = _events(_LineByLine(), [_MIXED])
    assert UpstreamEvent("p", "ping") in whole and UpstreamEvent("café") in whole
    assert _events(SSEDecoder(), [_MIXED]) == whole
    for i in range(len(_MIXED) + 1):
        for j in (i, min(i + 7, len(_MIXED))):
            pieces = [_MIXED[:i], _MIXED[i:j], _MIXED[j:]]
            assert _events(SSEDecoder(), pieces) == whole, f"split at {i}, {j}"
    # an event name left pending by one slice belongs to the next slice's data
    assert _events(SSEDecoder(), [b"event: x\n", b"data: y\n\n"]) == [UpstreamEvent("y", "x")]


def test_whole_event_fast_path_refuses_oversized_events() -> None:
    with pytest.raises(ModelError):
        SSEDecoder(max_event_bytes=100).feed(b"data: " + b"x" * 101 + b"\n\n")
    assert SSEDecoder(max_event_bytes=100).feed(b"data: " + b"x" * 100 + b"\n\n")


def test_one_whole_event_reads_like_the_decoder() -> None:
    # feed_event: one event block of a slice, nothing pending, LF line ends
    whole = _events(SSEDecoder(), [_MIXED])
    got: list[UpstreamEvent] = []
    decoder, start = SSEDecoder(), 0
    while (end := _MIXED.find(b"\n\n", start)) >= 0:
        got.extend(decoder.feed_event(_MIXED, start, end))
        start = end + 2
    assert got == whole[:-1]  # all but the tail, which has no blank line
    with pytest.raises(ModelError, match="oversized"):
        SSEDecoder(max_event_bytes=100).feed_event(b"data: " + b"x" * 101 + b"\n\n", 0, 107)
    assert SSEDecoder(max_event_bytes=100).feed_event(b"data: " + b"x" * 100 + b"\n\n", 0, 106)
