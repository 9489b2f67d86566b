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


async def test_fast_access_log_redacts_like_the_structlog_path() -> None:
    import json

    from router_core.logs import AccessLog, SecretRedactor

    out = CountingStream()
    writer = BatchedLogger(out, delay=10)
    access = AccessLog()
    access.enable_fast(writer, SecretRedactor(["admin-secret-1"]))
    key = "vr-" + "A" * 43
    access.write(
        {
            "request_id": key,
            "method": "POST",
            "path": f"/v1/x?key={key}",
            "status": 401,
            "error": "invalid_api_key",
            "latency_ms": 0.5,
            "model": "admin-secret-1",
            "api_key": "anything",
            "key_id": "key_1",
            "prompt_tokens": 3,
        }
    )
    writer.flush()
    line = json.loads(out.getvalue())
    assert key not in out.getvalue() and "admin-secret-1" not in out.getvalue()
    assert line["request_id"] == "[REDACTED]" and line["api_key"] == "[REDACTED]"
    assert line["model"] == "[REDACTED]" and line["key_id"] == "key_1"
    assert line["event"] == "request" and line["level"] == "info"
    assert line["status"] == 401 and line["prompt_tokens"] == 3
    assert line["timestamp"].endswith("Z") and line["timestamp"][10] == "T"
