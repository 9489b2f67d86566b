"""Native Responses pass-through: the client's body with only the model changed, the
per-provider switch, and the usage tap over a relayed stream or JSON answer."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from viberouter_openai import OpenAIProvider, OpenAISettings
from viberouter_openai.responses_native import ResponsesUsageTap

from router_core.plugin_api import (
    Deployment,
    InvalidRequest,
    ModelCard,
    ModelError,
    UpstreamEvent,
)
from router_core.plugin_testing import split_events


def _deployment(model: str = "gpt-5-2025-08-07") -> Deployment:
    return Deployment(
        id=f"openai/{model}", provider="openai", model=model, card=ModelCard(id=model)
    )


def _provider(**settings: object) -> OpenAIProvider:
    return OpenAIProvider(msgspec.convert(settings, OpenAISettings))


@pytest.mark.parametrize(
    ("settings", "native"),
    [
        ({}, True),
        ({"base_url": "http://127.0.0.1:8000/v1"}, False),
        ({"base_url": "http://127.0.0.1:8000/v1", "responses_api": "native"}, True),
        ({"responses_api": "translate"}, False),
    ],
)
def test_native_only_where_configured(settings: dict[str, object], native: bool) -> None:
    provider = _provider(**settings)
    assert provider.native_dialects == {"openai_responses"}
    body = b'{"model":"x","input":"hi"}'
    if native:
        built = provider.build_native_request(
            "openai_responses", "responses", body, {}, _deployment(), stream=False
        )
        assert built.url.endswith("/responses") and built.framing == "json"
    else:  # InvalidRequest: the core translates instead
        with pytest.raises(InvalidRequest):
            provider.build_native_request(
                "openai_responses", "responses", body, {}, _deployment(), stream=False
            )


def test_body_passes_through_with_the_model_replaced(openai_data: Path) -> None:
    provider = _provider(
        api_key="sk-test", base_url="http://127.0.0.1:9/v1/", responses_api="native"
    )
    client = (openai_data / "responses_native_client.json").read_bytes()
    up = provider.build_native_request(
        "openai_responses", "responses", client, {}, _deployment(), stream=True
    )
    assert (up.method, up.url, up.framing) == ("POST", "http://127.0.0.1:9/v1/responses", "sse")
    assert up.body == (openai_data / "responses_native_client.body.json").read_bytes()
    assert up.headers["Authorization"] == "Bearer sk-test"
    with pytest.raises(InvalidRequest):
        provider.build_native_request("anthropic_messages", "messages", client, {}, _deployment(),
                                      stream=False)  # fmt: skip


def test_tap_reads_a_stream_without_changing_it(openai_data: Path) -> None:
    raw = (openai_data / "responses_native_stream.sse").read_bytes()
    tap = ResponsesUsageTap()
    commits = [tap.feed(e) for e in split_events(raw)]
    tap.close()
    assert commits[:2] == [False, False] and all(commits[2:])
    usage = tap.usage()
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (40, 25, 65)
    assert tap.status == "completed"
    assert tap.response is not None and b'"id":"resp_fx01"' in tap.response


def test_tap_raises_the_in_band_error(openai_data: Path) -> None:
    events = split_events((openai_data / "responses_native_failed.sse").read_bytes())
    tap = ResponsesUsageTap()
    assert tap.feed(events[0]) is False
    with pytest.raises(ModelError):  # the operator's quota: another deployment may answer
        tap.feed(events[1])


def test_tap_stream_cut_short_is_model_error(openai_data: Path) -> None:
    events = split_events((openai_data / "responses_native_stream.sse").read_bytes())
    tap = ResponsesUsageTap()
    for event in events[:-1]:
        tap.feed(event)
    with pytest.raises(ModelError):
        tap.close()


def test_tap_reads_a_json_answer() -> None:
    body = (
        b'{"id":"resp_1","object":"response","status":"incomplete","output":[],'
        b'"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},'
        b'"output_tokens":7,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":17}}'
    )
    tap = ResponsesUsageTap()
    tap.read_body(body)
    tap.close()
    usage = tap.usage()
    assert usage is not None and tap.status == "incomplete" and tap.response == body
    details = msgspec.to_builtins(usage)
    assert details["prompt_tokens_details"]["cached_tokens"] == 4
    assert details["completion_tokens_details"]["reasoning_tokens"] == 5


def test_tap_without_event_names_decodes_types() -> None:
    tap = ResponsesUsageTap()
    created = UpstreamEvent(data='{"type":"response.created","response":{"status":"queued"}}')
    assert tap.feed(created) is False
