"""parse_response: generateContent bodies -> ChatCompletion."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from gemini_helpers import chat, deployment, provider, to_json

from router_core.plugin_api import ContentFilter, ModelError

_any = msgspec.json.Decoder()


@pytest.mark.parametrize("name", ["response_text", "response_tools", "response_candidates"])
def test_body_matches_expected_completion(gemini_data: Path, name: str) -> None:
    body = (gemini_data / f"{name}.json").read_bytes()
    got = to_json(provider().parse_response(chat(), deployment(), body))
    assert got == _any.decode((gemini_data / f"{name}.expected.json").read_bytes())


def test_prompt_blocked_raises_content_filter_by_default(gemini_data: Path) -> None:
    body = (gemini_data / "response_blocked.json").read_bytes()
    with pytest.raises(ContentFilter, match="blocked"):
        provider().parse_response(chat(), deployment(), body)


def test_prompt_blocked_as_one_empty_choice_when_configured(gemini_data: Path) -> None:
    body = (gemini_data / "response_blocked.json").read_bytes()
    plugin = provider(blocked_prompt="empty_choice")
    got = to_json(plugin.parse_response(chat(), deployment(), body))
    expected = (gemini_data / "response_blocked.empty_choice.expected.json").read_bytes()
    assert got == _any.decode(expected)
    assert got["choices"][0]["finish_reason"] == "content_filter"


def test_logprobs_are_mapped_to_openai_shape(gemini_data: Path) -> None:
    body = (gemini_data / "response_logprobs.json").read_bytes()
    got = to_json(provider().parse_response(chat(logprobs=True), deployment(), body))
    assert got["choices"][0]["logprobs"] == {
        "content": [
            {
                "token": "Hej",
                "logprob": -0.05,
                "bytes": [72, 101, 106],
                "top_logprobs": [
                    {"token": "Hej", "logprob": -0.05, "bytes": [72, 101, 106]},
                    {"token": "Hi", "logprob": -3.2, "bytes": [72, 105]},
                ],
            }
        ],
        "refusal": None,
    }


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"{}", b'{"candidates": 3}'])
def test_garbage_is_a_model_error(body: bytes) -> None:
    with pytest.raises(ModelError):
        provider().parse_response(chat(), deployment(), body)
