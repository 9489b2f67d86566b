"""A mock OpenAI ``/v1/chat/completions`` upstream that costs far less than any gateway.

A raw asyncio protocol (no framework) answers from bodies encoded once at start-up.
The requested model picks the behaviour:

* ``m-fast``  -- JSON completion, or a stream of ``--chunks`` content chunks sent at once;
* ``m-paced`` -- the same stream, the first chunk at once and each next one after
  ``--delay-ms`` (the upstream's inter-chunk gap the router must preserve);
* ``m-hold``  -- a stream whose first chunk is sent and which then stays open (up to
  ``--hold-s``) until the client goes away: for counting open streams' memory.

Run: ``python -m bench.mock_upstream --port 9000 [--chunks 20 --delay-ms 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import dataclass
from typing import cast

from bench.loop import run_fast

CREATED = 1_700_000_000
MAX_HEADER_BYTES = 64 * 1024


def _chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _usage_chunk(completion_tokens: int) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": completion_tokens,
            "total_tokens": 12 + completion_tokens,
        },
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def _http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@dataclass(frozen=True)
class Payloads:
    """Every byte the mock sends, encoded once."""

    completion: bytes  # whole HTTP response
    stream_head: bytes  # status line + headers of a chunked SSE response
    first: bytes  # first HTTP chunk (role)
    middle: tuple[bytes, ...]  # one HTTP chunk per content event
    last: bytes  # finish + usage + [DONE] + the terminating zero chunk
    fast_stream: bytes  # the whole fast stream in one write
    not_found: bytes


def build_payloads(chunks: int) -> Payloads:
    """Encode the mock's responses for streams of ``chunks`` content chunks."""
    completion_body = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "tok " * chunks},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": chunks,
                "total_tokens": 12 + chunks,
            },
        },
        separators=(",", ":"),
    ).encode()
    completion = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(completion_body)}\r\n\r\n".encode()
        + completion_body
    )
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    first = _http_chunk(_chunk({"role": "assistant", "content": ""}))
    middle = tuple(_http_chunk(_chunk({"content": "tok "})) for _ in range(chunks))
    last = (
        _http_chunk(_chunk({}, "stop") + _usage_chunk(chunks) + b"data: [DONE]\n\n") + b"0\r\n\r\n"
    )
    body = b"Not Found"
    not_found = (
        b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return Payloads(
        completion, head, first, middle, last, head + first + b"".join(middle) + last, not_found
    )


class MockProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order."""

    def __init__(self, payloads: Payloads, delay_s: float, hold_s: float) -> None:
        self._p = payloads
        self._delay = delay_s
        self._hold = hold_s
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False  # a paced or held stream is being written
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._serve()

    def _serve(self) -> None:
        while self._transport is not None and not self._busy:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEADER_BYTES:
                    self._transport.close()
                return
            length = _content_length(self._buf, end)
            total = end + 4 + length
            if len(self._buf) < total:
                return
            head = bytes(self._buf[: self._buf.find(b"\r\n")])
            body = bytes(self._buf[end + 4 : total])
            del self._buf[:total]
            self._answer(head, body)

    def _answer(self, request_line: bytes, body: bytes) -> None:
        t = self._transport
        assert t is not None
        if not request_line.startswith(b"POST ") or b"/chat/completions" not in request_line:
            t.write(self._p.not_found)
            return
        model = _model(body)
        stream = b'"stream":true' in body
        if not stream:
            t.write(self._p.completion)
        elif model == b"m-paced" and self._delay > 0:
            self._busy = True
            t.write(self._p.stream_head + self._p.first)
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._next, 0)
        elif model == b"m-hold":
            self._busy = True
            t.write(self._p.stream_head + self._p.first)
            self._timer = asyncio.get_running_loop().call_later(
                self._hold, self._next, len(self._p.middle)
            )
        else:
            t.write(self._p.fast_stream)

    def _next(self, i: int) -> None:
        t = self._transport
        if t is None:
            return
        middle = self._p.middle
        if i < len(middle) - 1:
            t.write(middle[i])
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._next, i + 1)
            return
        # the last content chunk goes out with finish, usage and [DONE], like OpenAI's tail
        t.write((middle[i] if i < len(middle) else b"") + self._p.last)
        self._timer = None
        self._busy = False
        if self._buf:
            self._serve()


def _content_length(buf: bytearray, end: int) -> int:
    head = bytes(buf[:end]).lower()
    i = head.find(b"\r\ncontent-length:")
    if i < 0:
        return 0
    j = head.find(b"\r\n", i + 2)
    return int(head[i + 17 : j if j >= 0 else len(head)].strip())


def _model(body: bytes) -> bytes:
    i = body.find(b'"model":"')
    if i < 0:
        return b""
    i += 9
    return body[i : body.find(b'"', i)]


async def serve(port: int, chunks: int, delay_ms: float, hold_s: float) -> None:
    """Listen on 127.0.0.1:``port`` until cancelled."""
    payloads = build_payloads(chunks)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: MockProtocol(payloads, delay_ms / 1000.0, hold_s),
        "127.0.0.1",
        port,
        backlog=4096,
        reuse_address=True,
    )
    print(f"mock upstream listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Command line entry: ``python -m bench.mock_upstream``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--hold-s", type=float, default=120.0)
    args = parser.parse_args()
    run_fast(serve(args.port, max(1, args.chunks), args.delay_ms, args.hold_s))


if __name__ == "__main__":
    main()
