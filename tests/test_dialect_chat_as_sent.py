"""The chat dialect's frame for a chunk whose upstream event is that chunk as it came
(contract 2.6): the upstream's text, with a top-level ``"usage":null`` added or
removed to match the client; the chunk encoded whenever that is not provably safe."""

from __future__ import annotations

import json

import msgspec
import pytest

from router_core.api.chat import ChatCompletionChunk, ChunkChoice, Delta, Usage
from router_core.dialects.openai_chat import OpenAIChatStream

_HEAD = '"id":"c","object":"chat.completion.chunk","created":1,"model":"m"'
_CHOICES = '"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]'


def _chunk(usage: Usage | None | msgspec.UnsetType) -> ChatCompletionChunk:
    delta = Delta(content="hi")
    return ChatCompletionChunk(
        id="c", created=1, model="m", choices=[ChunkChoice(delta=delta)], usage=usage
    )


def _frame(include_usage: bool, data: str, usage: Usage | None | msgspec.UnsetType) -> str:
    out = OpenAIChatStream(include_usage).feed_as_sent(_chunk(usage), data)
    assert out.startswith(b"data: ") and out.endswith(b"\n\n")
    return out[6:-2].decode()


def _encoded(include_usage: bool) -> str:
    return OpenAIChatStream(include_usage).feed(_chunk(msgspec.UNSET))[6:-2].decode()


def test_data_goes_out_as_it_came_when_usage_matches() -> None:
    with_null = "{" + _HEAD + ", " + _CHOICES + ',"usage":null}'
    without = "{" + _HEAD + ", " + _CHOICES + "}"
    assert _frame(True, with_null, None) == with_null
    assert _frame(False, without, msgspec.UNSET) == without


def test_usage_null_is_added_at_the_end_for_a_client_that_asked() -> None:
    data = "{" + _HEAD + "," + _CHOICES + "}  "
    assert _frame(True, data, msgspec.UNSET) == "{" + _HEAD + "," + _CHOICES + ',"usage":null}'


@pytest.mark.parametrize(
    "data",
    [
        "{" + _HEAD + "," + _CHOICES + ',"usage":null}',
        "{" + _HEAD + ',"usage":null,' + _CHOICES + "}",
    ],
)
def test_the_top_level_usage_null_is_cut_for_a_client_that_did_not_ask(data: str) -> None:
    assert _frame(False, data, None) == "{" + _HEAD + "," + _CHOICES + "}"


@pytest.mark.parametrize(
    "data",
    [
        # two "usage" in the text: which one is the top-level key is not provable cheaply
        "{" + _HEAD + ',"x":{"usage":null},' + _CHOICES + ',"usage":null}',
        "{" + _HEAD + ',"usage":null,' + _CHOICES.replace('"hi"', '"usage"') + "}",
        # spaced, or the first member: not the plain ',"usage":null' form
        "{" + _HEAD + "," + _CHOICES + ',"usage": null}',
        '{"usage":null,' + _HEAD + "," + _CHOICES + "}",
    ],
)
def test_an_unprovable_cut_encodes_the_chunk(data: str) -> None:
    assert _frame(False, data, None) == _encoded(False)


def test_data_over_several_lines_and_usage_chunks_are_encoded() -> None:
    data = "{" + _HEAD + ",\n" + _CHOICES + "}"
    assert _frame(True, data, msgspec.UNSET) == _encoded(True)
    usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    framed = json.loads(_frame(True, "{" + _HEAD + "," + _CHOICES + "}", usage))
    assert framed["usage"] is None  # a content chunk: the usage goes in its own chunk
