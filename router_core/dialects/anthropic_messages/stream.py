"""Canonical chunks -> Anthropic's stream events, byte for byte as Anthropic frames them.

Grammar (wire-formats §3.4): one ``message_start`` (a full message skeleton whose
usage holds the prompt estimate), then content blocks with contiguous indexes from 0,
one open at a time: ``content_block_start`` (empty block) -> deltas ->
``content_block_stop``; then ``message_delta`` (stop reason, cumulative usage with
the real input and cache counts) and ``message_stop``. ``ping`` while the upstream
is silent; ``error`` (and nothing after it) when the stream fails.

Canonical reasoning text becomes a ``thinking`` block (with an empty signature: a
translated upstream has none to give), content a ``text`` block, each tool call a
``tool_use`` block whose argument fragments pass through untouched as
``input_json_delta``. Tool calls must arrive one after another (every upstream the
router translates streams them so); arguments for a call whose block was already
closed cannot be placed and fail the stream instead of corrupting it.
"""

from __future__ import annotations

import msgspec

from router_core.api.chat import (
    ChatCompletionChunk,
    Delta,
    FinishReason,
    FunctionDelta,
    ToolCallDelta,
    Usage,
)
from router_core.dialects.anthropic_messages.errors import error_event
from router_core.dialects.anthropic_messages.from_chat import (
    new_message_id,
    new_tool_use_id,
    stop_reason,
    usage_out,
)
from router_core.dialects.anthropic_messages.wire import (
    BlockDeltaOut,
    ContentBlockDeltaEvent,
    ContentBlockStartEvent,
    ContentBlockStopEvent,
    ContentOut,
    InputJsonDelta,
    MessageDeltaBody,
    MessageDeltaEvent,
    MessageOut,
    MessageStartEvent,
    TextDelta,
    TextOut,
    ThinkingDelta,
    ThinkingOut,
    ToolUseOut,
    UsageOut,
)
from router_core.errors import ModelError, RouterError

_encode = msgspec.json.Encoder().encode

#: Anthropic's keep-alive event, exactly as Anthropic writes it.
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
_STOP_EVENT = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
_TEXT, _THINKING, _TOOL = "text", "thinking", "tool_use"


def frame(name: str, payload: bytes) -> bytes:
    """One SSE event: ``event: <name>`` then its ``data:`` line."""
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


class MessagesStreamEncoder:
    """Per-stream state machine: canonical chunks in, Anthropic SSE bytes out.

    ``message_id`` is injectable so fixture tests can pin it; ``input_estimate`` is
    the prompt estimate message_start reports before the real count is known.
    """

    __slots__ = (
        "_block",
        "_closed",
        "_estimate",
        "_finish",
        "_id",
        "_kind",
        "_model",
        "_next",
        "_refused",
        "_started",
        "_tool",
        "_tools_done",
        "_usage",
    )

    def __init__(
        self, *, model: str = "", message_id: str | None = None, input_estimate: int = 0
    ) -> None:
        self._id = message_id or new_message_id()
        self._model = model
        self._estimate = input_estimate
        self._started = False
        self._closed = False
        self._block = -1  # index of the open block, -1 when none is open
        self._next = 0  # index the next block gets
        self._kind = ""  # kind of the open block
        self._tool = -1  # canonical tool-call index of the open tool_use block
        self._tools_done: set[int] = set()  # canonical tool indexes already closed
        self._finish: FinishReason | None = None
        self._refused = False
        self._usage: Usage | None = None

    def feed(self, chunk: ChatCompletionChunk) -> bytes:
        """The events for one canonical chunk (often one event, sometimes none)."""
        out: list[bytes] = []
        if not self._started:
            self._model = self._model or chunk.model
            out.append(self._message_start())
        if isinstance(chunk.usage, Usage):
            self._usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # Anthropic has one choice; n > 1 is refused before this
            self._delta(choice.delta, out)
            if choice.finish_reason is not None:
                self._finish = choice.finish_reason
        return b"".join(out)

    def feed_as_sent(self, chunk: ChatCompletionChunk, data: str) -> bytes:
        """:meth:`feed` (the upstream's data is not an Anthropic event)."""
        return self.feed(chunk)

    def close(self) -> bytes:
        """The canonical stream ended normally: close the open block, then
        ``message_delta`` and ``message_stop``."""
        if self._closed:
            return b""
        out: list[bytes] = []
        if not self._started:
            out.append(self._message_start())
        self._close_block(out)
        self._closed = True
        usage: UsageOut = usage_out(self._usage, input_estimate=self._estimate)
        delta = MessageDeltaBody(stop_reason=stop_reason(self._finish, refused=self._refused))
        out.append(frame("message_delta", _encode(MessageDeltaEvent(delta=delta, usage=usage))))
        out.append(_STOP_EVENT)
        return b"".join(out)

    def error(self, err: RouterError) -> bytes:
        """The stream failed after it started: one ``error`` event, nothing after it."""
        self._closed = True
        return error_event(err)

    @staticmethod
    def start() -> bytes:
        """Nothing: ``message_start`` goes with the first chunk, which names the model."""
        return b""

    @staticmethod
    def keepalive() -> bytes:
        """Anthropic's ``ping`` event (SDKs skip it), sent while the upstream is silent."""
        return PING

    # ------------------------------------------------------------ blocks

    def _message_start(self) -> bytes:
        self._started = True
        message = MessageOut(
            id=self._id, model=self._model, usage=UsageOut(input_tokens=self._estimate)
        )
        return frame("message_start", _encode(MessageStartEvent(message=message)))

    def _delta(self, delta: Delta, out: list[bytes]) -> None:
        if isinstance(delta.reasoning_content, str) and delta.reasoning_content:
            self._emit(_THINKING, ThinkingDelta(thinking=delta.reasoning_content), out)
        if isinstance(delta.content, str) and delta.content:
            self._emit(_TEXT, TextDelta(text=delta.content), out)
        if isinstance(delta.refusal, str) and delta.refusal:
            self._refused = True
            self._emit(_TEXT, TextDelta(text=delta.refusal), out)
        if isinstance(delta.tool_calls, list):
            for call in delta.tool_calls:
                self._tool_call(call, out)

    def _emit(self, kind: str, delta: BlockDeltaOut, out: list[bytes]) -> None:
        if self._kind != kind:
            block: ContentOut = TextOut(text="") if kind == _TEXT else ThinkingOut(thinking="")
            self._open(kind, block, out)
        event = ContentBlockDeltaEvent(index=self._block, delta=delta)
        out.append(frame("content_block_delta", _encode(event)))

    def _tool_call(self, call: ToolCallDelta, out: list[bytes]) -> None:
        fn = call.function
        if self._kind != _TOOL or call.index != self._tool:
            if call.index in self._tools_done:
                raise ModelError(
                    "The model provider interleaved the arguments of parallel tool calls",
                    detail=f"arguments for tool call {call.index} after its block closed",
                )
            call_id = call.id if isinstance(call.id, str) else new_tool_use_id()
            name = fn.name if isinstance(fn, FunctionDelta) and isinstance(fn.name, str) else ""
            self._open(_TOOL, ToolUseOut(id=call_id, name=name, input={}), out)
            self._tool = call.index
        if isinstance(fn, FunctionDelta) and isinstance(fn.arguments, str) and fn.arguments:
            event = ContentBlockDeltaEvent(
                index=self._block, delta=InputJsonDelta(partial_json=fn.arguments)
            )
            out.append(frame("content_block_delta", _encode(event)))

    def _open(self, kind: str, block: ContentOut, out: list[bytes]) -> None:
        self._close_block(out)
        self._block, self._kind = self._next, kind
        self._next += 1
        event = ContentBlockStartEvent(index=self._block, content_block=block)
        out.append(frame("content_block_start", _encode(event)))

    def _close_block(self, out: list[bytes]) -> None:
        if self._block < 0:
            return
        if self._kind == _TOOL:
            self._tools_done.add(self._tool)
            self._tool = -1
        out.append(frame("content_block_stop", _encode(ContentBlockStopEvent(index=self._block))))
        self._block, self._kind = -1, ""


__all__ = ["PING", "MessagesStreamEncoder", "frame"]
