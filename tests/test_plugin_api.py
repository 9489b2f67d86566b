"""The plugin contract is pinned: adding is a minor change, removing breaks plugins."""

from __future__ import annotations

import pytest

import router_core.plugin_api as api

PINNED = {
    "API_VERSION",
    "AudioPart",
    "Capabilities",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentFilter",
    "ContentPart",
    "ContextLengthExceeded",
    "Delta",
    "Deployment",
    "FilePart",
    "Framing",
    "FunctionCall",
    "FunctionDelta",
    "ImagePart",
    "InvalidRequest",
    "LocalResponse",
    "Message",
    "ModelCard",
    "ModelError",
    "NamedFunction",
    "Pricing",
    "PromptTokensDetails",
    "ProviderPlugin",
    "RefusalPart",
    "ResponseMessage",
    "RouterError",
    "StreamTranslator",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "UpstreamEvent",
    "UpstreamRateLimited",
    "UpstreamRequest",
    "UpstreamTimeout",
    "Usage",
    "decode_chunk",
    "decode_completion",
    "error_for_status",
    "json_decode",
    "json_encode",
    "new_completion_id",
    "new_tool_call_id",
    "now",
    "retry_after_seconds",
    "split_events",
    "upstream_message",
}


def test_all_is_pinned() -> None:
    assert set(api.__all__) == PINNED
    assert api.API_VERSION == 1
    for name in api.__all__:
        assert hasattr(api, name), name


def test_default_error_mapping() -> None:
    err = api.error_for_status(429, {"retry-after": "7"}, "slow down")
    assert isinstance(err, api.UpstreamRateLimited) and err.retry_after == 7.0 and err.retryable
    err = api.error_for_status(401, {}, "bad key")
    assert isinstance(err, api.ModelError) and not err.retryable
    assert "operator" in err.message
    assert isinstance(api.error_for_status(504, {}, ""), api.UpstreamTimeout)
    assert isinstance(api.error_for_status(400, {}, "nope"), api.InvalidRequest)
    err = api.error_for_status(503, {"retry-after-ms": "1500"}, "")
    assert isinstance(err, api.ModelError) and err.retryable and err.retry_after == 1.5


def test_upstream_message_shapes() -> None:
    assert api.upstream_message(b'{"error":{"message":"m1"}}') == "m1"
    assert api.upstream_message(b'{"error":"m2"}') == "m2"
    assert api.upstream_message(b'{"message":"m3"}') == "m3"
    assert api.upstream_message(b"plain text") == "plain text"


def test_split_events_uses_the_core_readers() -> None:
    raw = b": keep-alive\n\nevent: a\r\ndata: x\r\ndata: y\r\n\r\ndata: z"
    assert api.split_events(raw) == [api.UpstreamEvent("x\ny", "a"), api.UpstreamEvent("z")]
    assert api.split_events(b'{"a":1}\n\n{"b":2}', "ndjson") == [
        api.UpstreamEvent('{"a":1}'),
        api.UpstreamEvent('{"b":2}'),
    ]


@pytest.mark.parametrize("value", ["inf", "1e306", "nan", "-5"])
def test_retry_after_is_finite_and_bounded(value: str) -> None:
    parsed = api.retry_after_seconds({"retry-after": value})
    assert parsed is None or 0.0 <= parsed <= 86_400.0
