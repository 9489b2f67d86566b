"""map_error: OpenAI and OpenRouter error envelopes -> RouterErrors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from viberouter_openai import OpenAIProvider

_CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "openai_error_cases.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", _CASES, ids=[c["name"] for c in _CASES])
def test_openai_map_error(case: dict[str, Any]) -> None:
    body = case["body"]
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    error = OpenAIProvider().map_error(case["status"], case["headers"], raw)
    assert type(error).__name__ == case["cls"]
    assert error.code == case["code"]
    assert error.retryable is case["retryable"]
    assert error.retry_after == case.get("retry_after")
    assert case.get("message_has", "") in error.message
    upstream_text = body if isinstance(body, str) else body["error"]
    upstream_text = upstream_text if isinstance(upstream_text, str) else upstream_text["message"]
    assert upstream_text in (error.detail or "")
    assert f"upstream status {case['status']}" in (error.detail or "")


def test_openai_map_error_never_blames_the_client_key() -> None:
    body = (
        b'{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}'
    )
    error = OpenAIProvider().map_error(401, {}, body)
    assert error.code == "model_error"  # a client-key code would be invalid_api_key
    assert error.http_status == 502
