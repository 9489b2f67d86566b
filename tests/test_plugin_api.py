"""The plugin contract is pinned: adding is a minor change, removing breaks plugins.

Contract 2.0 (deliberate): ``CONTRACT_VERSION`` and ``contract_compatible`` added,
``split_events`` moved to ``router_core.plugin_testing`` (a deprecated alias stays),
``Deployment.params`` removed, ``ProviderPlugin.api_version`` became
``contract_version``. Contract 2.1 (additive): ``UsageTap``, and the optional
``native_dialects`` / ``build_native_request`` / ``usage_tap`` of ``ProviderPlugin``.
Contract 2.2 (additive): the embeddings types and the optional
``build_embeddings_request`` / ``parse_embeddings_response``.
Contract 2.3 (additive): ``CacheControl``, ``ReasoningConfig``, ``ReasoningDetail`` and
``ThinkingBlock`` (prompt caching and reasoning carried across providers).
Contract 2.7 (additive): ``PromptTokensDetails.cache_write_1h_tokens`` (one-hour cache
writes, billed at their own rate).
"""

from __future__ import annotations

import dataclasses

import pytest

import router_core.plugin_api as api
from router_core import plugin_testing

PINNED = {
    "API_VERSION",
    "CONTRACT_VERSION",
    "AsSentTranslator",
    "AudioPart",
    "CacheControl",
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
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingUsage",
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
    "PriceTier",
    "Pricing",
    "PromptTokensDetails",
    "ProviderPlugin",
    "ReasoningConfig",
    "ReasoningDetail",
    "RefusalPart",
    "ResponseMessage",
    "RouterError",
    "StreamTranslator",
    "TextPart",
    "ThinkingBlock",
    "TokenTemplate",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "UpstreamEvent",
    "UpstreamRateLimited",
    "UpstreamRequest",
    "UpstreamTimeout",
    "Usage",
    "UsageTap",
    "contract_compatible",
    "decode_chunk",
    "decode_completion",
    "error_for_status",
    "json_decode",
    "json_encode",
    "new_completion_id",
    "new_tool_call_id",
    "now",
    "retry_after_seconds",
    "upstream_message",
}


def test_all_is_pinned() -> None:
    assert set(api.__all__) == PINNED
    assert api.CONTRACT_VERSION == (2, 8)
    assert api.API_VERSION == 2
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
    expected = [api.UpstreamEvent("x\ny", "a"), api.UpstreamEvent("z")]
    assert plugin_testing.split_events(raw) == expected
    assert plugin_testing.split_events(b'{"a":1}\n\n{"b":2}', "ndjson") == [
        api.UpstreamEvent('{"a":1}'),
        api.UpstreamEvent('{"b":2}'),
    ]
    # the contract-1 name still works for plugins outside this repository, and says so
    with pytest.warns(DeprecationWarning, match="plugin_testing"):
        assert api.split_events(raw) == expected


def test_compatibility_rule() -> None:
    major, minor = api.CONTRACT_VERSION
    assert api.contract_compatible((major, minor))
    assert api.contract_compatible((major, 0))
    assert not api.contract_compatible((major, minor + 1))  # needs a newer router
    assert not api.contract_compatible((major - 1, minor))  # written for the old contract
    assert not api.contract_compatible((major + 1, 0))
    assert api.ProviderPlugin.contract_version == api.CONTRACT_VERSION


def test_contract_2_loose_ends_are_tied() -> None:
    assert [f.name for f in dataclasses.fields(api.Deployment)] == [
        "id",
        "provider",
        "model",
        "card",
    ]
    # count_tokens is an optional method with a default, so the core calls it directly
    assert "count_tokens" not in api.ProviderPlugin.__abstractmethods__
    assert (
        api.ProviderPlugin.count_tokens(
            None,  # type: ignore[arg-type]
            plugin_testing.chat_request(),
            plugin_testing.deployment("m"),
        )
        is None
    )


@pytest.mark.parametrize("value", ["inf", "1e306", "nan", "-5"])
def test_retry_after_is_finite_and_bounded(value: str) -> None:
    parsed = api.retry_after_seconds({"retry-after": value})
    assert parsed is None or 0.0 <= parsed <= 86_400.0


def test_contract_2_1_native_dialects_are_optional() -> None:
    """A plugin written for 2.0 speaks no dialect natively and is translated as before."""
    deployment = plugin_testing.deployment("m")
    assert api.ProviderPlugin.native_dialects == frozenset()
    for name in ("build_native_request", "usage_tap"):
        assert name not in api.ProviderPlugin.__abstractmethods__
    with pytest.raises(api.InvalidRequest):
        api.ProviderPlugin.build_native_request(
            None,  # type: ignore[arg-type]
            "anthropic_messages",
            "messages",
            b"{}",
            {},
            deployment,
            stream=False,
        )
    assert api.contract_compatible((2, 0))


def test_contract_2_6_as_sent_translators_are_optional() -> None:
    """A plugin written before 2.6 has no as-sent translator: its streams are encoded
    chunk by chunk as before."""
    assert "as_sent_translator" not in api.ProviderPlugin.__abstractmethods__
    assert (
        api.ProviderPlugin.as_sent_translator(
            None,  # type: ignore[arg-type]
            plugin_testing.chat_request(),
            plugin_testing.deployment("m"),
        )
        is None
    )
    assert api.contract_compatible((2, 5))
