"""router_core/dialects/anthropic_messages stream: canonical chunks into Anthropic's
exact event sequence (byte-exact fixture), and the same events an Anthropic upstream
sent when the chunks came from one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router_core.api.chat import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FinishReason,
    FunctionDelta,
    ToolCallDelta,
    Usage,
)
from router_core.dialects.anthropic_messages import PING, MessagesStreamEncoder
from router_core.errors import ModelError, UpstreamTimeout
from router_core.plugin_api import decode_chunk
from router_core.plugin_testing import split_events

DATA = Path(__file__).parent / "data" / "anthropic_dialect"
PLUGIN_DATA = Path(__file__).parents[1] / "plugins" / "viberouter-anthropic" / "tests" / "data"


def _encode(chunks: list[ChatCompletionChunk], **kwargs: Any) -> bytes:
    encoder = MessagesStreamEncoder(**kwargs)
    return b"".join(encoder.feed(c) for c in chunks) + encoder.close()


def _chunk(delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c", created=1, model="m", choices=[ChunkChoice(delta=delta, finish_reason=finish)]
    )


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    return [(e.event, json.loads(e.data)) for e in split_events(raw)]


def test_thinking_text_and_tools_byte_for_byte() -> None:
    lines = (DATA / "stream_tools.chat.jsonl").read_bytes().splitlines()
    out = _encode(
        [decode_chunk(line) for line in lines], message_id="msg_fx11", input_estimate=2050
    )
    assert out == (DATA / "stream_tools.messages.sse").read_bytes()


def _comparable(events: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Events without what a translation cannot know (ids, usage) or need not repeat."""
    out: list[Any] = []
    for name, data in events:
        assert data["type"] == name  # the JSON type always equals the event name
        if name == "ping" or name == "future_event_type":
            continue  # keep-alives, and an event type newer than the plugin (ignored)
        if name == "message_start":
            out.append((name, data["message"]["content"], data["message"]["stop_reason"]))
        elif name == "message_delta":
            out.append((name, data["delta"]["stop_reason"], data["usage"]["output_tokens"]))
        else:
            out.append((name, data.get("index"), data.get("content_block"), data.get("delta")))
    return out


@pytest.mark.parametrize("name", ["an1", "tool_parallel", "utf8_text"])
def test_anthropic_upstream_events_survive_the_round_trip(name: str) -> None:
    """Anthropic SSE -> (anthropic plugin) canonical chunks -> this encoder: the same
    block sequence, deltas and stop reason as the upstream sent."""
    upstream = (PLUGIN_DATA / f"{name}.sse").read_bytes()
    lines = (PLUGIN_DATA / f"{name}.expected.jsonl").read_bytes().splitlines()
    ours = _events(_encode([decode_chunk(line) for line in lines]))
    theirs = _events(upstream)
    got, want = _comparable(ours), _comparable(theirs)
    # Empty fragments carry nothing; the canonical form drops them.
    empty = ({"type": "input_json_delta", "partial_json": ""}, {"type": "text_delta", "text": ""})
    want = [e for e in want if e[-1] not in empty]
    assert got == want


def test_usage_reaches_message_delta() -> None:
    chunks = [
        _chunk(Delta(role="assistant", content="")),
        _chunk(Delta(content="hi")),
        _chunk(Delta(), "length"),
        ChatCompletionChunk(
            id="c",
            created=1,
            model="m",
            choices=[],
            usage=Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10),
        ),
    ]
    events = _events(_encode(chunks, input_estimate=9))
    assert events[0][1]["message"]["usage"]["input_tokens"] == 9
    assert events[-2] == (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {
                "input_tokens": 7,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 3,
            },
        },
    )
    assert events[-1] == ("message_stop", {"type": "message_stop"})


def test_a_stream_with_no_chunks_is_still_a_whole_message() -> None:
    names = [name for name, _ in _events(MessagesStreamEncoder(model="m").close())]
    assert names == ["message_start", "message_delta", "message_stop"]


def test_refusal_text_ends_with_stop_reason_refusal() -> None:
    events = _events(_encode([_chunk(Delta(refusal="No.")), _chunk(Delta(), "stop")]))
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "No."}
    assert events[-2][1]["delta"]["stop_reason"] == "refusal"


def test_zero_argument_tool_call_starts_with_an_empty_input() -> None:
    call = ToolCallDelta(
        index=0, id="call_1", type="function", function=FunctionDelta(name="now", arguments="")
    )
    events = _events(_encode([_chunk(Delta(tool_calls=[call])), _chunk(Delta(), "tool_calls")]))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[1][1]["content_block"] == {
        "type": "tool_use",
        "id": "call_1",
        "name": "now",
        "input": {},
    }


def test_a_tool_call_without_an_id_gets_one() -> None:
    call = ToolCallDelta(index=0, function=FunctionDelta(name="f", arguments="{}"))
    events = _events(_encode([_chunk(Delta(tool_calls=[call]))]))
    assert events[1][1]["content_block"]["id"].startswith("toolu_")


def test_interleaved_tool_arguments_fail_the_stream() -> None:
    def call(i: int, args: str, name: str | None = None) -> ChatCompletionChunk:
        fn = FunctionDelta(name=name, arguments=args) if name else FunctionDelta(arguments=args)
        return _chunk(Delta(tool_calls=[ToolCallDelta(index=i, function=fn)]))

    encoder = MessagesStreamEncoder()
    encoder.feed(call(0, '{"a":', "f"))
    encoder.feed(call(1, "{}", "g"))
    with pytest.raises(ModelError):
        encoder.feed(call(0, "1}"))


def test_ping_and_error_events() -> None:
    encoder = MessagesStreamEncoder()
    assert encoder.keepalive() == PING == b'event: ping\ndata: {"type": "ping"}\n\n'
    encoder.feed(_chunk(Delta(content="partial")))
    assert encoder.error(UpstreamTimeout()) == (
        b'event: error\ndata: {"type":"error","error":{"type":"timeout_error",'
        b'"message":"The model provider did not answer in time"}}\n\n'
    )
    assert encoder.close() == b""  # nothing follows an error event


def test_other_choices_are_ignored() -> None:
    chunk = ChatCompletionChunk(
        id="c", created=1, model="m", choices=[ChunkChoice(index=1, delta=Delta(content="x"))]
    )
    names = [name for name, _ in _events(_encode([chunk]))]
    assert "content_block_start" not in names
