"""Nothing follows a stream's end. The relay writes its last frames together with the
chunked terminator (``write_eof``), and aiohttp marks the end as sent only after the
flush, which waits on a slow client. A keep-alive or a drain-cut error event written
during that wait would follow the terminator and break the connection's framing."""

from __future__ import annotations

import asyncio

from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_writer import StreamWriter
from aiohttp.test_utils import make_mocked_request

from router_core.accounting import StreamOutcome
from router_core.dialects.base import KEEPALIVE_COMMENT
from router_core.streaming import ClientStream, _send_last
from router_core.timeouts import KeepAliveSweep

TERMINATOR = b"0\r\n\r\n"


class _Protocol(BaseProtocol):
    ssl_context = None
    peername = None
    sockname = None


class _Transport(asyncio.Transport):
    """Keeps every byte written; the protocol's pause stands for a client that does
    not read."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.out += data

    def writelines(self, chunks: object) -> None:
        for chunk in chunks:  # type: ignore[attr-defined]
            self.out += chunk

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default

    def get_write_buffer_size(self) -> int:
        return 0


async def _stream() -> tuple[ClientStream, _Protocol, _Transport, KeepAliveSweep]:
    loop = asyncio.get_running_loop()
    transport, protocol = _Transport(), _Protocol(loop)
    protocol.connection_made(transport)
    writer = StreamWriter(protocol, loop)
    request = make_mocked_request(
        "POST", "/v1/chat/completions", writer=writer, protocol=protocol, transport=transport
    )
    sweep = KeepAliveSweep()
    stream = ClientStream(headers={}, keepalive=15.0, sweep=sweep)
    await stream.prepare(request)
    return stream, protocol, transport, sweep


async def test_nothing_is_written_after_the_end_while_its_flush_waits() -> None:
    stream, protocol, transport, sweep = await _stream()
    protocol.pause_writing()  # the client reads nothing: the end's flush waits
    end = asyncio.ensure_future(
        _send_last(stream, b"data: tok\n\n", b"data: [DONE]\n\n", StreamOutcome())
    )
    await asyncio.sleep(0.01)
    assert not end.done() and stream.ending
    # the keep-alive sweep no longer holds it, and a ping now writes nothing
    assert len(sweep) == 0
    stream.last_write -= 100
    stream.ping()
    # the drain's cut lands here: the relay's failure path sends its last frames
    cut = asyncio.ensure_future(
        _send_last(stream, b"", b'data: {"error": "shutting_down"}\n\n', StreamOutcome())
    )
    await asyncio.sleep(0.01)
    protocol.resume_writing()
    await asyncio.wait_for(asyncio.gather(end, cut), 5)
    body = bytes(transport.out)
    assert body.endswith(b"data: [DONE]\n\n\r\n" + TERMINATOR)
    assert body.count(TERMINATOR) == 1
    assert KEEPALIVE_COMMENT not in body and b"shutting_down" not in body
