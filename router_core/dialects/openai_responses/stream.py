"""Canonical chat chunks -> the Responses event stream, one encoder per stream.

Items are opened and closed one at a time in output order (the "active item" Codex
tracks): text opens a message item, a tool call a function_call item, reasoning text
a reasoning item; starting a new one closes the active one with its ``.done`` events.
Chat upstreams send a call's argument fragments contiguously, so a fragment for a call
that is already closed (never seen in practice) is kept for the final response only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from router_core.api.chat import (
    ChatCompletionChunk,
    Delta,
    FinishReason,
    FunctionDelta,
    ToolCallDelta,
    Usage,
)
from router_core.dialects.openai_responses import events as ev
from router_core.dialects.openai_responses.errors import error_detail
from router_core.dialects.openai_responses.from_chat import (
    NewId,
    custom_input,
    custom_tool_names,
    finish,
    new_id,
    response_usage,
    skeleton,
)
from router_core.dialects.openai_responses.wire import (
    CustomToolCallItem,
    FunctionCallItem,
    MessageItem,
    OutputItem,
    OutputTextPart,
    ReasoningItem,
    ReasoningText,
    RefusalPart,
    Response,
    ResponseError,
    ResponsesRequest,
)
from router_core.errors import RouterError


@dataclass(slots=True)
class _Call:
    output_index: int
    item: FunctionCallItem | CustomToolCallItem
    arguments: list[str] = field(default_factory=list)


class ResponsesStreamEncoder:
    """Per-stream state: the response being built, the active item, sequence numbers.

    ``start()`` first, then ``feed(chunk)`` per canonical chunk, then exactly one of
    ``finish()`` (the upstream ended) or ``fail(error)``; each returns SSE frames.
    ``response`` is the final object (for the store) once finished.
    """

    def __init__(
        self,
        req: ResponsesRequest,
        *,
        response_id: str,
        created_at: int,
        clock: Callable[[], int],
        make_id: NewId = new_id,
    ) -> None:
        self.response: Response = skeleton(req, response_id=response_id, created_at=created_at)
        self._clock = clock
        self._new_id = make_id
        self._custom = custom_tool_names(req)
        self._seq = 0
        self._out: list[bytes] = []
        self._active: OutputItem | None = None
        self._texts: list[str] = []  # the active message's (or reasoning's) current part
        self._calls: dict[int, _Call] = {}
        self._finish_reason: FinishReason | None = None
        self._usage: Usage | None = None
        self.finished = False

    # ------------------------------------------------------------ public

    def start(self) -> list[bytes]:
        """``response.created`` and ``response.in_progress``."""
        self._emit(ev.ResponseCreated(sequence_number=0, response=self.response))
        self._emit(ev.ResponseInProgress(sequence_number=0, response=self.response))
        return self._flush()

    def feed(self, chunk: ChatCompletionChunk) -> list[bytes]:
        """The events for one canonical chunk (the first choice; usage from any chunk)."""
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            self._delta(choice.delta)
            if choice.finish_reason is not None:
                self._finish_reason = choice.finish_reason
        if isinstance(chunk.usage, Usage):
            self._usage = chunk.usage
        return self._flush()

    def finish(self) -> list[bytes]:
        """Close the open items, then ``response.completed`` (or ``.incomplete``)."""
        self._close_active()
        for call in self._calls.values():
            call.item.status = "completed"
        self.response.usage = response_usage(self._usage)
        finish(self.response, self._finish_reason, self._clock())
        terminal: type[ev.ResponseCompleted] | type[ev.ResponseIncomplete] = (
            ev.ResponseCompleted if self.response.status == "completed" else ev.ResponseIncomplete
        )
        self._emit(terminal(sequence_number=0, response=self.response))
        self.finished = True
        return self._flush()

    def fail(self, error: RouterError) -> list[bytes]:
        """An ``error`` event, then ``response.failed`` (nothing more is sent)."""
        detail = error_detail(error)
        self._emit(
            ev.ErrorEvent(
                sequence_number=0,
                code=detail.code,
                message=detail.message,
                param=detail.param,
                error=detail,
            )
        )
        self.response.status = "failed"
        self.response.error = ResponseError(code=detail.code or error.code, message=error.message)
        if self._usage is not None:
            self.response.usage = response_usage(self._usage)
        self._emit(ev.ResponseFailed(sequence_number=0, response=self.response))
        self.finished = True
        return self._flush()

    @property
    def usage(self) -> Usage | None:
        """The upstream's usage, once its usage chunk arrived."""
        return self._usage

    # ------------------------------------------------------------ plumbing

    def _emit(self, event: ev.Event) -> None:
        event.sequence_number = self._seq
        self._seq += 1
        self._out.append(ev.frame(event))

    def _flush(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def _open(self, item: OutputItem) -> int:
        self._close_active()
        self.response.output.append(item)
        self._active = item
        index = len(self.response.output) - 1
        self._emit(ev.OutputItemAdded(sequence_number=0, output_index=index, item=item))
        return index

    @property
    def _index(self) -> int:
        return len(self.response.output) - 1

    def _delta(self, delta: Delta) -> None:
        if isinstance(delta.reasoning_content, str) and delta.reasoning_content:
            self._reasoning(delta.reasoning_content)
        if isinstance(delta.content, str) and delta.content:
            self._text(delta.content, refusal=False)
        if isinstance(delta.refusal, str) and delta.refusal:
            self._text(delta.refusal, refusal=True)
        if isinstance(delta.tool_calls, list):
            for call in delta.tool_calls:
                self._tool(call)

    # ------------------------------------------------------------ items

    def _reasoning(self, text: str) -> None:
        item = self._active
        if not isinstance(item, ReasoningItem):
            item = ReasoningItem(id=self._new_id("rs"))
            self._open(item)
            self._texts = []
        self._texts.append(text)
        self._emit(
            ev.ReasoningTextDelta(
                sequence_number=0,
                item_id=item.id,
                output_index=self._index,
                content_index=0,
                delta=text,
            )
        )

    def _text(self, text: str, *, refusal: bool) -> None:
        item = self._active
        if not isinstance(item, MessageItem):
            item = MessageItem(id=self._new_id("msg"), status="in_progress")
            self._open(item)
        part = item.content[-1] if item.content else None
        if part is None or isinstance(part, RefusalPart) != refusal:
            if part is not None:
                self._close_part(item)
            part = RefusalPart(refusal="") if refusal else OutputTextPart(text="")
            self._texts = []
            self._emit(
                ev.ContentPartAdded(
                    sequence_number=0,
                    item_id=item.id,
                    output_index=self._index,
                    content_index=len(item.content),
                    part=part,
                )
            )
            item.content.append(part)
        self._texts.append(text)
        cls = ev.RefusalDelta if refusal else ev.OutputTextDelta
        self._emit(
            cls(
                sequence_number=0,
                item_id=item.id,
                output_index=self._index,
                content_index=len(item.content) - 1,
                delta=text,
            )
        )

    def _tool(self, delta: ToolCallDelta) -> None:
        fn = delta.function if isinstance(delta.function, FunctionDelta) else None
        fragment = fn.arguments if fn is not None and isinstance(fn.arguments, str) else ""
        call = self._calls.get(delta.index)
        if call is None:
            name = fn.name if fn is not None and isinstance(fn.name, str) else ""
            call_id = delta.id if isinstance(delta.id, str) else self._new_id("call")
            item: FunctionCallItem | CustomToolCallItem
            if name in self._custom:
                item = CustomToolCallItem(
                    id=self._new_id("ctc"), status="in_progress", call_id=call_id, name=name,
                    input="",
                )  # fmt: skip
            else:
                item = FunctionCallItem(
                    id=self._new_id("fc"), status="in_progress", call_id=call_id, name=name,
                    arguments="",
                )  # fmt: skip
            index = self._open(item)
            call = self._calls[delta.index] = _Call(index, item)
        if not fragment:
            return
        call.arguments.append(fragment)
        if call.item is self._active and isinstance(call.item, FunctionCallItem):
            self._emit(
                ev.FunctionCallArgumentsDelta(
                    sequence_number=0,
                    item_id=call.item.id,
                    output_index=call.output_index,
                    delta=fragment,
                )
            )
        elif call.item is not self._active:
            self._set_arguments(call)  # late fragment: the final response still has it

    # ------------------------------------------------------------ closing

    def _close_active(self) -> None:
        item, self._active = self._active, None
        if item is None:
            return
        index = self.response.output.index(item)
        if isinstance(item, MessageItem):
            if item.content:
                self._close_part(item, index)
            item.status = "completed"
        elif isinstance(item, ReasoningItem):
            text = "".join(self._texts)
            item.content = [ReasoningText(text=text)]
            self._emit(
                ev.ReasoningTextDone(
                    sequence_number=0, item_id=item.id, output_index=index, content_index=0,
                    text=text,
                )
            )  # fmt: skip
        else:
            self._close_call(item, index)
        self._emit(ev.OutputItemDone(sequence_number=0, output_index=index, item=item))

    def _close_part(self, item: MessageItem, index: int | None = None) -> None:
        index = self._index if index is None else index
        content_index = len(item.content) - 1
        part = item.content[content_index]
        text = "".join(self._texts)
        self._texts = []
        if isinstance(part, RefusalPart):
            part.refusal = text
            done: ev.Event = ev.RefusalDone(
                sequence_number=0, item_id=item.id, output_index=index,
                content_index=content_index, refusal=text,
            )  # fmt: skip
        else:
            part.text = text
            done = ev.OutputTextDone(
                sequence_number=0, item_id=item.id, output_index=index,
                content_index=content_index, text=text,
            )  # fmt: skip
        self._emit(done)
        self._emit(
            ev.ContentPartDone(
                sequence_number=0, item_id=item.id, output_index=index,
                content_index=content_index, part=part,
            )
        )  # fmt: skip

    def _close_call(self, item: FunctionCallItem | CustomToolCallItem, index: int) -> None:
        call = next(c for c in self._calls.values() if c.item is item)
        self._set_arguments(call)
        item.status = "completed"
        if isinstance(item, CustomToolCallItem):
            if item.input:
                self._emit(
                    ev.CustomToolCallInputDelta(
                        sequence_number=0, item_id=item.id, output_index=index, delta=item.input
                    )
                )
            self._emit(
                ev.CustomToolCallInputDone(
                    sequence_number=0, item_id=item.id, output_index=index, input=item.input
                )
            )
            return
        self._emit(
            ev.FunctionCallArgumentsDone(
                sequence_number=0, item_id=item.id, output_index=index, name=item.name,
                arguments=item.arguments,
            )
        )  # fmt: skip

    def _set_arguments(self, call: _Call) -> None:
        arguments = "".join(call.arguments)
        if isinstance(call.item, CustomToolCallItem):
            call.item.input = custom_input(arguments)
        else:
            call.item.arguments = arguments


__all__ = ["ResponsesStreamEncoder"]
