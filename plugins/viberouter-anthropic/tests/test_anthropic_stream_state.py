"""Stream translator state: tool-call indexes and a stream that never started."""

from __future__ import annotations

import json
from typing import Any

import pytest
from viberouter_anthropic.stream import AnthropicStreamTranslator

from router_core.plugin_api import ModelError, UpstreamEvent

MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 5, "output_tokens": 1},
    },
}


def _events(*payloads: dict[str, Any]) -> list[Any]:
    return [UpstreamEvent(json.dumps(p), p["type"]) for p in payloads]


def test_anthropic_repeated_block_start_gets_its_own_tool_index() -> None:
    def start_tool(i: int, tid: str) -> dict[str, Any]:
        return {
            "type": "content_block_start",
            "index": i,
            "content_block": {"type": "tool_use", "id": tid, "name": "f", "input": {}},
        }

    t = AnthropicStreamTranslator("m")
    out = []
    for ev in _events(MESSAGE_START, start_tool(0, "a"), start_tool(0, "a2"), start_tool(1, "b")):
        out.extend(t.feed(ev))
    indexes = [tc.index for c in out for ch in c.choices for tc in (ch.delta.tool_calls or [])]
    assert indexes == [0, 1, 2]


def test_anthropic_stream_without_message_start_is_an_error() -> None:
    t = AnthropicStreamTranslator("m")
    with pytest.raises(ModelError):
        t.feed(_events({"type": "message_stop"})[0])
