"""The server's batched log writer: lines are late by at most the delay, never lost."""

from __future__ import annotations

import asyncio
import io

from router_core.logs import BatchedLogger, flush_logs


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


async def test_lines_are_batched_within_the_delay() -> None:
    out = CountingStream()
    logger = BatchedLogger(out, delay=0.05, limit=1000)
    for i in range(100):
        logger.info(f"line {i}")
    assert out.getvalue() == ""  # nothing written yet: one batch is pending
    await asyncio.sleep(0.1)
    assert out.getvalue().splitlines() == [f"line {i}" for i in range(100)]
    assert out.flushes == 1


async def test_a_full_batch_is_written_at_once() -> None:
    out = CountingStream()
    logger = BatchedLogger(out, delay=10, limit=10)
    for i in range(25):
        logger.msg(str(i))
    assert out.getvalue().splitlines() == [str(i) for i in range(20)]
    logger.flush()
    assert out.getvalue().splitlines() == [str(i) for i in range(25)]


def test_without_an_event_loop_lines_are_written_immediately() -> None:
    out = CountingStream()
    logger = BatchedLogger(out)
    logger.warning("now")
    assert out.getvalue() == "now\n"
    flush_logs()  # nothing pending anywhere: no error
