"""A tolerant normaliser for OpenAI-compatible streams.

Whatever the upstream's quirks, the output is a clean OpenAI stream: the role on the
first delta of each choice only, no empty deltas, dense tool-call indexes per choice,
exactly one finish chunk per choice, and exactly one usage chunk (``choices=[]``) at
the end when the upstream reported usage on any chunk.
"""

from __future__ import annotations

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

# Hot-path aliases: feed() runs once per upstream event.
_UNSET = msgspec.UNSET
_decode = wire.chunk_decoder.decode
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)
# Read-only stand-ins for absent parts, so a missing delta/function allocates nothing.
_NO_DELTA = wire.UpDelta()
_NO_FUNCTION = wire.UpFunction()


class _Choice:
    """Per-choice state: what was emitted so far and how upstream tool indexes map."""

    __slots__ = ("by_id", "by_index", "finished", "ids", "last", "named", "started")

    def __init__(self) -> None:
        self.started = False
        self.finished = False
        self.ids: list[str] = []  # our tool-call slots, dense from 0
        self.named: list[bool] = []
        self.by_id: dict[str, int] = {}
        self.by_index: dict[int, int] = {}  # upstream index -> slot
        self.last: int | None = None


class OpenAIStreamTranslator:
    """Upstream SSE events in, canonical chunks out (see the module docstring)."""

    __slots__ = (
        "_choices",
        "_created",
        "_done",
        "_fingerprint",
        "_id",
        "_model",
        "_tier",
        "_usage",
    )

    def __init__(self, fallback_model: str) -> None:
        self._choices: dict[int, _Choice] = {}
        self._usage: wire.UpUsage | None = None
        self._done = False
        self._id = ""
        self._created = 0
        self._model = fallback_model
        self._fingerprint: str | msgspec.UnsetType | None = _UNSET
        self._tier: str | msgspec.UnsetType | None = _UNSET

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one event; raise the mapped RouterError for an in-band error."""
        if self._done:
            return []
        try:
            # JSON allows surrounding whitespace, so the common case needs no strip();
            # blank data, [DONE] and garbage all fail here and take the careful path.
            chunk = _decode(event.data)
        except _DECODE_ERRORS:
            data = event.data.strip()
            if not data:
                return []
            if data == "[DONE]":
                return self._end()
            chunk = self._decode_stripped(data)
        if chunk.error:
            raise error_for(None, fault_from_payload(chunk.error), {})
        # Remember the stream's identity: the latest non-empty id and clock win.
        self._id = chunk.id or self._id or new_completion_id()
        created = chunk.created
        self._created = (created if created.__class__ is int else int(created)) or (
            self._created or now()
        )
        if chunk.model and not self._choices:
            # The model rule: the upstream's name, fixed once a chunk went out (Azure
            # opens with a choice-less chunk that names no model).
            self._model = chunk.model
        if chunk.system_fingerprint is not _UNSET:
            self._fingerprint = chunk.system_fingerprint
        if chunk.service_tier is not _UNSET:
            self._tier = chunk.service_tier
        if chunk.usage is not None:
            self._usage = chunk.usage
        out: list[ChatCompletionChunk] = []
        if chunk.choices:
            for choice in chunk.choices:
                self._translate_choice(choice, out)
        return out

    def close(self) -> list[ChatCompletionChunk]:
        """The body ended: the usage chunk if not sent yet, or ModelError if unfinished."""
        return [] if self._done else self._end()

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _decode_stripped(data: str) -> wire.UpChunk:
        try:
            return _decode(data)
        except _DECODE_ERRORS as exc:
            raise ModelError(
                "The model provider sent a malformed chunk", detail=f"{exc}: {data[:300]}"
            ) from exc

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
        self, choices: list[ChunkChoice], usage: Usage | msgspec.UnsetType = _UNSET
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
        index = up.index
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _Choice()
        elif state.finished:
            # Duplicate finish chunks (OpenRouter) and anything after them.
            return
        delta = up.delta or _NO_DELTA
        up_calls = delta.tool_calls
        tool_calls = (self._tool_calls(state, up_calls) if up_calls else None) or _UNSET
        reasoning = delta.reasoning_content or delta.reasoning or _UNSET
        details = delta.reasoning_details or _UNSET
        if state.started:
            # Later deltas: empty or null text carries nothing and is dropped (every
            # absent part is UNSET, which is falsy), and an empty delta is not sent.
            content = delta.content or _UNSET
            refusal = delta.refusal or _UNSET
            if refusal or tool_calls or reasoning or details:
                out_delta = Delta(
                    content=content,
                    refusal=refusal,
                    tool_calls=tool_calls,
                    reasoning_content=reasoning,
                    reasoning=reasoning,
                    reasoning_details=details,
                )
            elif content:
                out_delta = Delta(content=content)  # the common case: a text token
            else:
                out_delta = None
        else:
            # The first delta keeps "" and null text as sent (OpenAI's role chunk shape).
            state.started = True
            out_delta = Delta(
                role="assistant",
                content=delta.content,
                refusal=delta.refusal,
                tool_calls=tool_calls,
                reasoning_content=reasoning,
                reasoning=reasoning,
                reasoning_details=details,
            )
        if out_delta is not None:
            out.append(
                self._chunk([ChunkChoice(index=index, delta=out_delta, logprobs=up.logprobs)])
            )
        if up.finish_reason is not None:
            reason = wire.finish_reason(up.finish_reason, had_tool_calls=bool(state.ids))
            state.finished = True
            finish = ChunkChoice(index=index, delta=Delta(), finish_reason=reason)
            out.append(self._chunk([finish]))

    def _tool_calls(
        self, state: _Choice, deltas: list[wire.UpToolCallDelta]
    ) -> list[ToolCallDelta]:
        out: list[ToolCallDelta] = []
        for up in deltas:
            function = up.function or _NO_FUNCTION
            name = function.name or None
            raw = function.arguments
            arguments = raw if isinstance(raw, str) else wire.arguments_text(raw)
            slot = self._existing_slot(state, up, name)
            if slot is None:
                slot = len(state.ids)
                call_id = up.id or new_tool_call_id()
                state.ids.append(call_id)
                state.named.append(name is not None)
                state.by_id[call_id] = slot
                head = FunctionDelta(name=name or _UNSET, arguments=arguments)
                out.append(ToolCallDelta(index=slot, id=call_id, type="function", function=head))
            else:
                fresh_name = name is not None and not state.named[slot]
                state.named[slot] = state.named[slot] or fresh_name
                if arguments or fresh_name:
                    part = FunctionDelta(
                        name=name if fresh_name and name else _UNSET,
                        arguments=arguments or _UNSET,
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
