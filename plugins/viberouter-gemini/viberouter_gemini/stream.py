"""``streamGenerateContent?alt=sse`` events -> OpenAI chunks.

Gemini sends each event as a whole ``GenerateContentResponse``: text arrives in
pieces, function calls arrive whole, ``usageMetadata`` is cumulative on every
event, and ``finishReason`` comes on a candidate's last event, possibly after the
event that carried its function calls. There is no end sentinel: the stream ends
when the connection closes, so :meth:`GeminiStreamTranslator.close` is the normal
end and emits the finish chunks (deciding ``tool_calls`` vs ``stop`` with the whole
stream seen) and the single usage chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
)

from .errors import error_for
from .mapping import OpenAIFinish, finish_reason, logprobs, usage
from .reasoning import signature_detail, thought_detail
from .response import BlockedPrompt, blocked_prompt_error, completion_id, decode_response, tool_call
from .wire import Candidate


@dataclass(slots=True)
class _ChoiceState:
    tool_calls: int = 0
    details: int = 0  # reasoning_details entries so far
    thought_index: int | None = None  # the details index of the thought text
    finish: str | None = None  # Gemini's finishReason once seen
    filtered: bool = False  # the prompt was blocked after this choice started
    role_sent: bool = False  # the role chunk went out


class GeminiStreamTranslator:
    """Per-stream state machine (see the module docstring)."""

    def __init__(
        self,
        model: str,
        *,
        blocked_prompt: BlockedPrompt,
        new_id: Callable[[], str],
        created: int,
    ) -> None:
        self._model = model
        self._blocked_prompt = blocked_prompt
        self._new_id = new_id
        self._created = created
        self._id = new_completion_id()  # replaced by the upstream responseId if any
        self._id_from_upstream = False
        self._choices: dict[int, _ChoiceState] = {}
        self._usage: Usage | None = None
        self._emitted = False

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one SSE event; raise the mapped RouterError for an in-band error."""
        if not event.data.strip():
            return []
        resp = decode_response(event.data)
        if resp.error is not None:
            raise error_for(resp.error.code or 500, resp.error, {})
        if not self._id_from_upstream:
            self._id_from_upstream = True
            self._id = completion_id(resp) if resp.response_id else self._id
        if resp.model_version and not self._emitted:
            # the model rule: Gemini's modelVersion, fixed once a chunk went out
            self._model = resp.model_version
        if resp.usage_metadata is not None:
            self._usage = usage(resp.usage_metadata)
        out: list[ChatCompletionChunk] = []
        if not resp.candidates and resp.prompt_feedback and resp.prompt_feedback.block_reason:
            self._blocked(resp.prompt_feedback.block_reason, out)
        for cand in resp.candidates:
            self._candidate(cand, out)
        self._emitted = self._emitted or bool(out)
        return out

    def close(self) -> list[ChatCompletionChunk]:
        """Finish chunks, then one usage chunk; ModelError if a candidate never finished."""
        if not self._choices or any(
            s.finish is None and not s.filtered for s in self._choices.values()
        ):
            raise ModelError(
                "The model provider's stream ended early",
                detail="gemini stream closed before every candidate had a finishReason",
            )
        out: list[ChatCompletionChunk] = []
        for i, s in sorted(self._choices.items()):
            self._role(i, s, out)
            finish = self._finish(s)
            out.append(self._chunk([ChunkChoice(index=i, delta=Delta(), finish_reason=finish)]))
        if self._usage is not None:
            out.append(self._chunk([], usage=self._usage))
        return out

    # ------------------------------------------------------------ internals

    def _blocked(self, reason: str, out: list[ChatCompletionChunk]) -> None:
        if not self._emitted and self._blocked_prompt == "error":
            raise blocked_prompt_error(reason)
        if not self._choices:
            self._state(0, out)
        for index, state in self._choices.items():
            self._role(index, state, out)
            state.filtered = True

    def _candidate(self, cand: Candidate, out: list[ChatCompletionChunk]) -> None:
        state = self._state(cand.index, out)
        lp = logprobs(cand.logprobs_result)
        for part in cand.content.parts if cand.content else []:
            call = tool_call(part, self._new_id)
            if call is not None:
                fn = FunctionDelta(name=call.function.name, arguments=call.function.arguments)
                delta = Delta(
                    tool_calls=[
                        ToolCallDelta(
                            index=state.tool_calls, id=call.id, type="function", function=fn
                        )
                    ]
                )
                state.tool_calls += 1
            elif isinstance(part.text, str) and part.text:
                if part.thought is True:
                    delta = self._thought(state, part.text)
                else:
                    delta = Delta(content=part.text)
            else:
                delta = Delta()
            if isinstance(part.thought_signature, str) and part.thought_signature and call is None:
                detail = signature_detail(state.details, part.thought_signature)
                state.details += 1
                delta.reasoning_details = [*(delta.reasoning_details or []), detail]
            if delta == Delta():
                continue
            self._role(cand.index, state, out)
            out.append(self._chunk([ChunkChoice(index=cand.index, delta=delta, logprobs=lp)]))
            lp = None  # one event's logprobs ride on its first chunk only
        if cand.finish_reason:
            state.finish = cand.finish_reason

    @staticmethod
    def _thought(state: _ChoiceState, text: str) -> Delta:
        if state.thought_index is None:
            state.thought_index = state.details
            state.details += 1
        detail = thought_detail(state.thought_index, text)
        return Delta(reasoning_content=text, reasoning=text, reasoning_details=[detail])

    def _state(self, index: int, out: list[ChatCompletionChunk]) -> _ChoiceState:
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = _ChoiceState()
        return state

    def _role(self, index: int, state: _ChoiceState, out: list[ChatCompletionChunk]) -> None:
        # The role goes out with a choice's first real chunk, not with the first event:
        # the core commits a stream at its first chunk, and an error in an event that
        # carried nothing yet (usage only, empty text) must still fail over.
        if not state.role_sent:
            state.role_sent = True
            role = Delta(role="assistant", content="")
            out.append(self._chunk([ChunkChoice(index=index, delta=role)]))

    def _finish(self, state: _ChoiceState) -> OpenAIFinish:
        if state.filtered:
            return "content_filter"
        return finish_reason(state.finish or "STOP", state.tool_calls > 0)

    def _chunk(self, choices: list[ChunkChoice], **extra: Any) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=choices, **extra
        )
