"""The plugin testing kit checks what it says it checks: it passes a translator that
keeps the contract and fails each way one can break it."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import msgspec
import pytest

from router_core import plugin_testing as kit
from router_core.plugin_api import (
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Delta,
    ResponseMessage,
    UpstreamEvent,
    Usage,
)


class Scripted:
    """A translator whose upstream events spell out the chunk to emit
    (``role``, ``text``, ``tool:<index>``, ``finish``, ``usage``; ``model=`` prefix)."""

    def __init__(self, counter: Callable[[], int] | None = None) -> None:
        self._counter = counter

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        model, _, what = event.data.rpartition(" ")
        model = model or "m-2024"
        if what == "usage":
            usage = Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
            return [ChatCompletionChunk(id="c", created=1, model=model, choices=[], usage=usage)]
        delta = Delta()
        finish = None
        if what == "role":
            delta = Delta(role="assistant", content="")
        elif what == "text":
            text = "x" if self._counter is None else str(self._counter())
            delta = Delta(content=text)
        elif what.startswith("tool:"):
            call = {"index": int(what[5:]), "id": "call_1", "type": "function"}
            delta = msgspec.convert({"tool_calls": [{**call, "function": {"name": "f"}}]}, Delta)
        elif what == "finish":
            finish = "stop"
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish)
        return [ChatCompletionChunk(id="c", created=1, model=model, choices=[choice])]

    def close(self) -> list[ChatCompletionChunk]:
        return []


def _sse(*lines: str) -> bytes:
    return "".join(f"data: {line}\r\n\r\n" for line in lines).encode()


GOOD = _sse("role", "text", "tool:0", "tool:1", "finish", "usage")


def test_slicings_cover_every_offset() -> None:
    raw = b"abc"
    assert kit.byte_by_byte(raw) == [b"a", b"b", b"c"]
    cuts = list(kit.two_slices(raw))
    assert len(cuts) == 4 and all(b"".join(c) == raw for c in cuts)
    assert len(list(kit.every_slicing(raw))) == 1 + 4 + 1


def test_run_stream_reads_like_the_core() -> None:
    chunks = kit.run_stream(Scripted(), kit.byte_by_byte(GOOD))
    assert kit.as_lines(chunks) == kit.as_lines(kit.translate(Scripted(), GOOD))
    assert [e.data for e in kit.split_events(GOOD)][:2] == ["role", "text"]
    assert kit.split_events(b'{"a":1}\n{"b":2}', "ndjson")[1] == UpstreamEvent('{"b":2}')


def test_a_translator_that_keeps_the_contract_passes() -> None:
    chunks = kit.check_stream(Scripted, GOOD)
    assert len(chunks) == 6
    kit.check_model_rule(chunks, kit.deployment("m"), "m-2024")


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (_sse("text", "finish"), "does not start with the role"),
        (_sse("role", "tool:1", "finish"), "skips one"),
        (_sse("role", "usage", "finish"), "must be the last"),
        (_sse("role", "text"), "never finish"),
        (_sse("role", "finish", "text"), "continues after its finish"),
        (_sse("role", "other text", "finish"), "several models"),
    ],
)
def test_each_broken_rule_is_caught(raw: bytes, why: str) -> None:
    with pytest.raises(AssertionError, match=why):
        kit.check_stream(Scripted, raw)


def test_state_shared_between_streams_is_caught() -> None:
    shared = itertools.count()
    with pytest.raises(AssertionError, match="changes the chunks"):
        kit.check_stream(lambda: Scripted(lambda: next(shared)), GOOD)


def test_the_model_rule_check() -> None:
    dep = kit.deployment("gpt-4o", provider="openai")
    assert (dep.id, dep.card.id) == ("openai/gpt-4o", "openai/gpt-4o")
    answer = ChatCompletion(
        id="c",
        created=1,
        model="gpt-4o",
        choices=[Choice(message=ResponseMessage(content="x"), finish_reason="stop")],
    )
    kit.check_model_rule(answer, dep, None)
    with pytest.raises(AssertionError, match="model rule"):
        kit.check_model_rule(answer, dep, "gpt-4o-2024-08-06")
    aliased = msgspec.structs.replace(answer, model="my-alias")
    with pytest.raises(AssertionError, match="model rule"):
        kit.check_model_rule(aliased, dep, None)


def test_request_and_deployment_factories() -> None:
    req = kit.chat_request(model="alias", stream=True)
    assert (req.model, req.stream, req.messages[0].content) == ("alias", True, "hi")
    raw = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
    assert kit.decode_request(raw).model == "m"
    with pytest.raises(msgspec.ValidationError):
        kit.chat_request(temperature="hot")
