"""A tolerant normaliser for OpenAI-compatible streams.

Whatever the upstream's quirks, the output is a clean OpenAI stream: the role on the
first delta of each choice only, no empty deltas, dense tool-call indexes per choice,
exactly one finish chunk per choice, and exactly one usage chunk (``choices=[]``) at
the end when the upstream reported usage on any chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionDelta,
    ModelError,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
    new_completion_id,
    new_tool_call_id,
    now,
)
from viberouter_openai import wire
from viberouter_openai.errors import error_for, fault_from_payload


@dataclass(slots=True)
class _Choice:
    """Per-choice state: what was emitted so far and how upstream tool indexes map."""

    started: bool = False
    finished: bool = False
    ids: list[str] = field(default_factory=list)  # our tool-call slots, dense from 0
    named: list[bool] = field(default_factory=list)
    by_id: dict[str, int] = field(default_factory=dict)
    by_index: dict[int, int] = field(default_factory=dict)  # upstream index -> slot
    last: int | None = None


class OpenAIStreamTranslator:
    """Upstream SSE events in, canonical chunks out (see the module docstring)."""

    def __init__(self, fallback_model: str) -> None:
        self._choices: dict[int, _Choice] = {}
        self._usage: wire.UpUsage | None = None
        self._done = False
        self._id = ""
        self._created = 0
        self._model = fallback_model
        self._fingerprint: str | msgspec.UnsetType | None = msgspec.UNSET
        self._tier: str | msgspec.UnsetType | None = msgspec.UNSET

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one event; raise the mapped RouterError for an in-band error."""
        data = event.data.strip()
        if self._done or not data:
            return []
        if data == "[DONE]":
            return self._end()
        try:
            chunk = wire.chunk_decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ModelError(
                "The model provider sent a malformed chunk", detail=f"{exc}: {data[:300]}"
            ) from exc
        if chunk.error:
            raise error_for(None, fault_from_payload(chunk.error), {})
        self._remember(chunk)
        if chunk.usage is not None:
            self._usage = chunk.usage
        out: list[ChatCompletionChunk] = []
        for choice in chunk.choices or ():
            self._translate_choice(choice, out)
        return out

    def close(self) -> list[ChatCompletionChunk]:
        """The body ended: the usage chunk if not sent yet, or ModelError if unfinished."""
        return [] if self._done else self._end()

    # ------------------------------------------------------------------ internals

    def _remember(self, chunk: wire.UpChunk) -> None:
        self._id = chunk.id or self._id or new_completion_id()
        self._created = int(chunk.created) or self._created or now()
        self._model = chunk.model or self._model
        if not isinstance(chunk.system_fingerprint, msgspec.UnsetType):
            self._fingerprint = chunk.system_fingerprint
        if not isinstance(chunk.service_tier, msgspec.UnsetType):
            self._tier = chunk.service_tier

    def _end(self) -> list[ChatCompletionChunk]:
        self._done = True
        states = self._choices.values()
        if not states or not all(s.finished for s in states):
            raise ModelError(
                "The model provider's stream ended early",
                detail="stream ended before every choice had a finish_reason",
            )
        if self._usage is None:
            return []
        return [self._chunk([], usage=wire.usage(self._usage))]

    def _chunk(
        self, choices: list[ChunkChoice], usage: Usage | msgspec.UnsetType = msgspec.UNSET
    ) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            system_fingerprint=self._fingerprint,
            service_tier=self._tier,
            choices=choices,
            usage=usage,
        )

    def _translate_choice(self, up: wire.UpChunkChoice, out: list[ChatCompletionChunk]) -> None:
        state = self._choices.setdefault(up.index, _Choice())
        if state.finished:
            # Duplicate finish chunks (OpenRouter) and anything after them.
            return
        delta = up.delta or wire.UpDelta()
        first = not state.started
        tool_calls = self._tool_calls(state, delta.tool_calls or ())
        out_delta = Delta(
            role="assistant" if first else msgspec.UNSET,
            content=_text(delta.content, keep_empty=first),
            refusal=_text(delta.refusal, keep_empty=first),
            tool_calls=tool_calls or msgspec.UNSET,
            reasoning_content=delta.reasoning_content or delta.reasoning or msgspec.UNSET,
        )
        if first or _has_payload(out_delta):
            state.started = True
            choice = ChunkChoice(index=up.index, delta=out_delta, logprobs=up.logprobs)
            out.append(self._chunk([choice]))
        if up.finish_reason is not None:
            reason = wire.finish_reason(up.finish_reason, had_tool_calls=bool(state.ids))
            state.finished = True
            finish = ChunkChoice(index=up.index, delta=Delta(), finish_reason=reason)
            out.append(self._chunk([finish]))

    def _tool_calls(
        self, state: _Choice, deltas: tuple[()] | list[wire.UpToolCallDelta]
    ) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for up in deltas:
            function = up.function or wire.UpFunction()
            name = function.name or None
            arguments = wire.arguments_text(function.arguments)
            slot = self._existing_slot(state, up, name)
            if slot is None:
                slot = len(state.ids)
                call_id = up.id or new_tool_call_id()
                state.ids.append(call_id)
                state.named.append(name is not None)
                state.by_id[call_id] = slot
                head = FunctionDelta(name=name or msgspec.UNSET, arguments=arguments)
                out.append(ToolCallDelta(index=slot, id=call_id, type="function", function=head))
            else:
                fresh_name = name is not None and not state.named[slot]
                state.named[slot] = state.named[slot] or fresh_name
                if arguments or fresh_name:
                    part = FunctionDelta(
                        name=name if fresh_name and name else msgspec.UNSET,
                        arguments=arguments or msgspec.UNSET,
                    )
                    out.append(ToolCallDelta(index=slot, function=part))
            if up.index is not None:
                state.by_index[up.index] = slot
            state.last = slot
        return out

    @staticmethod
    def _existing_slot(state: _Choice, up: wire.UpToolCallDelta, name: str | None) -> int | None:
        """The slot this delta continues, or None when it starts a new call: a new ``id``
        always does, even at an occupied index; so does a ``name`` at a named slot."""
        if up.id:
            return state.by_id.get(up.id)
        slot = state.last if up.index is None else state.by_index.get(up.index)
        if slot is not None and name is not None and state.named[slot]:
            return None
        return slot


def _text(
    value: str | msgspec.UnsetType | None, *, keep_empty: bool
) -> str | msgspec.UnsetType | None:
    # The first delta keeps "" and null as sent (OpenAI's role chunk shape); later empty
    # or null text carries nothing and is dropped.
    if keep_empty or (isinstance(value, str) and value):
        return value
    return msgspec.UNSET


def _has_payload(delta: Delta) -> bool:
    return any(
        isinstance(value, str | list) and bool(value)
        for value in (delta.content, delta.refusal, delta.tool_calls, delta.reasoning_content)
    )
