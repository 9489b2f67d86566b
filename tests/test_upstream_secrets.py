"""No credential in any byte a client receives (issue: an upstream's 400 quoted the
key it was sent and the router passed it on). A fake OpenAI upstream quotes the
Authorization header it got, as JSON errors and as an in-band stream error; the raw
bytes the client receives must not hold the key in any form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from router_core.plugin_api import UpstreamRequest
from router_core.upstream_secrets import request_secrets, scrub_text
from tests.fault_upstream import Rig, Step, fakes, start_rig
from tests.router_harness import post_chat

SECRET = "sk-test-" + "Zq9s3cr3t" * 5
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for ups in fakes():
        ups["a"].api_key = SECRET
        r = await start_rig(tmp_path, ups)
        try:
            yield r
        finally:
            await r.close()


def assert_no_secret(raw: bytes) -> None:
    assert SECRET.encode() not in raw
    assert SECRET[8:].encode() not in raw  # not even the key without its prefix


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstream_error_quoting_the_key_is_scrubbed(rig: Rig, stream: bool) -> None:
    rig.a.script(Step("quote_key"))
    with structlog.testing.capture_logs() as logs:
        reply = await post_chat(rig.router, {"model": "a/m1", "messages": HI, "stream": stream})
    assert reply.status == 400
    assert reply.json()["error"] == "invalid_request"
    assert "Incorrect API key provided: [REDACTED]" in reply.json()["message"]
    assert_no_secret(reply.body)
    assert_no_secret(b"".join(str(k).encode() + str(v).encode() for k, v in reply.headers.items()))
    failed = [e for e in logs if e["event"] == "upstream_failed"]
    assert failed and all(SECRET not in str(e) for e in failed)
    await rig.assert_clean()


async def test_an_in_band_stream_error_quoting_the_key_is_scrubbed(rig: Rig) -> None:
    rig.a.script(Step("quote_key_midstream", delay=0.2))
    reply = await post_chat(rig.router, {"model": "a/m1", "messages": HI, "stream": True})
    assert reply.status == 200
    frames = [f for f in reply.body.split(b"\n\n") if f]
    assert frames[0].startswith(b"data: {")  # the content chunk went out first
    assert b'"error":' in frames[-1] and b"[REDACTED]" in frames[-1]
    assert_no_secret(reply.body)
    await rig.assert_clean()


def test_secrets_are_read_from_credential_headers_and_query() -> None:
    req = UpstreamRequest(
        "POST",
        "https://example.test/v1/x?key=query-secret-1&alt=sse",
        {
            "Authorization": "Bearer bearer-secret-1",
            "x-api-key": "header-secret-1",
            "content-type": "application/json",
            "x-goog-api-key": "abc",  # too short to be scrubbed: it would garble text
        },
        b"{}",
        "sse",
    )
    found = request_secrets(req)
    assert set(found) == {
        "Bearer bearer-secret-1",
        "bearer-secret-1",
        "header-secret-1",
        "query-secret-1",
    }
    text = "auth Bearer bearer-secret-1, key header-secret-1, url ?key=query-secret-1"
    assert scrub_text(text, found) == "auth [REDACTED], key [REDACTED], url ?key=[REDACTED]"
