"""Anthropic stream events -> canonical chunks (wire-formats §3.4 state machine).

One translator per stream. It owns the Anthropic-block -> OpenAI-tool index map
(dense from 0; the Anthropic block index counts text blocks too and must never
leak), whether each tool call got a non-empty argument fragment, the stop reason
and the cumulative usage. The structured-output answer tool's ``input_json_delta``
fragments become content deltas. Thinking streams as ``reasoning_content`` and
``reasoning`` deltas and as ``reasoning_details`` entries (one ``index`` per thinking
block; its ``signature_delta`` as an entry with the signature, redacted thinking as
one ``reasoning.encrypted`` entry), which clients merge by index.
"""

from __future__ import annotations

from typing import Any

import msgspec

from router_core.plugin_api import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionDelta,
    ModelError,
    ToolCallDelta,
    UpstreamEvent,
    new_completion_id,
    new_tool_call_id,
    now,
)

from .errors import error_for
from .mapping import (
    FinishReason,
    finish_reason,
    merge_usage,
    redacted_detail,
    text_detail,
    usage_from,
)
from .wire import (
    AnthropicUsage,
    ContentBlockDelta,
    ContentBlockStart,
    ContentBlockStop,
    ErrorEnvelope,
    EventType,
    MessageDelta,
    MessageStart,
)

_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "message_start": msgspec.json.Decoder(MessageStart),
    "content_block_start": msgspec.json.Decoder(ContentBlockStart),
    "content_block_delta": msgspec.json.Decoder(ContentBlockDelta),
    "content_block_stop": msgspec.json.Decoder(ContentBlockStop),
    "message_delta": msgspec.json.Decoder(MessageDelta),
    "error": msgspec.json.Decoder(ErrorEnvelope),
}
_type_decoder = msgspec.json.Decoder(EventType)


class AnthropicStreamTranslator:
    """Feeds on Anthropic SSE events, emits OpenAI-shaped chunks.

    ``completion_id`` and ``created`` are injectable so tests can pin them; every
    chunk of a stream shares them. ``include_usage`` only decides whether content
    chunks carry ``"usage": null`` like OpenAI's; the usage chunk is always emitted.
    """

    def __init__(
        self,
        model: str,
        *,
        include_usage: bool = False,
        completion_id: str | None = None,
        created: int | None = None,
        answer_tool: str | None = None,
        hide_reasoning: bool = False,
    ) -> None:
        self._id = completion_id or new_completion_id()
        self._created = now() if created is None else created
        self._model = model
        self._usage_field: msgspec.UnsetType | None = None if include_usage else msgspec.UNSET
        self._role_sent = False
        self._finished = False
        self._started = False  # message_start seen
        self._next_tool = 0  # next dense OpenAI tool index
        self._tool_index: dict[int, int] = {}  # Anthropic block index -> OpenAI tool index
        self._args_seen: dict[int, bool] = {}  # Anthropic block index -> non-empty fragment?
        self._stop_reason: str | None = None
        self._usage = AnthropicUsage()
        self._answer_tool = answer_tool
        self._answer_blocks: dict[int, bool] = {}  # answer-tool block -> text seen?
        self._hide_reasoning = hide_reasoning
        self._reasoning_index: dict[int, int] = {}  # thinking block -> details index

    # ------------------------------------------------------------ protocol

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one upstream event; an ``error`` event raises its RouterError."""
        if self._finished:  # nothing is valid after message_stop
            return []
        kind = event.event or self._decode(_type_decoder, event).type
        if kind == "message_stop":
            return self._on_message_stop()
        decoder = _DECODERS.get(kind)
        if decoder is None:  # ping, and event types newer than this plugin
            return []
        payload = self._decode(decoder, event)
        if isinstance(payload, ContentBlockDelta):
            return self._on_delta(payload)
        if isinstance(payload, ContentBlockStart):
            return self._on_block_start(payload)
        if isinstance(payload, ContentBlockStop):
            return self._on_block_stop(payload)
        if isinstance(payload, MessageStart):
            # No chunk yet: the core commits the stream at the first chunk, and an
            # overload error right after message_start must still fail over.
            self._started = True
            if payload.message.model:  # the model rule: the upstream's name for it
                self._model = payload.message.model
            merge_usage(self._usage, payload.message.usage)
            return []
        if isinstance(payload, MessageDelta):
            if payload.delta.stop_reason is not None:
                self._stop_reason = payload.delta.stop_reason
            merge_usage(self._usage, payload.usage)
            return []
        if isinstance(payload, ErrorEnvelope):
            raise error_for(payload.error)
        return []

    def close(self) -> list[ChatCompletionChunk]:
        """End of body: nothing more if ``message_stop`` came, else ``ModelError``."""
        if not self._finished:
            raise ModelError(
                "The model provider's stream ended early",
                detail=f"anthropic stream ended without message_stop (model {self._model})",
            )
        return []

    # ------------------------------------------------------------ events

    def _on_block_start(self, event: ContentBlockStart) -> list[ChatCompletionChunk]:
        block = event.content_block
        if block.type == "tool_use" and self._answer_tool == block.name:
            self._answer_blocks[event.index] = False
            return []
        if block.type in ("thinking", "redacted_thinking"):
            return self._on_reasoning_start(event)
        if block.type == "tool_use":
            # A counter, not len(): a repeated block start must not reuse an index.
            tool_index = self._next_tool
            self._next_tool += 1
            self._tool_index[event.index] = tool_index
            self._args_seen[event.index] = False
            call = ToolCallDelta(
                index=tool_index,
                id=block.id or new_tool_call_id(),
                type="function",
                function=FunctionDelta(name=block.name, arguments=""),
            )
            return [*self._role_chunk(), self._chunk(Delta(tool_calls=[call]))]
        if block.type == "text" and block.text:
            return [*self._role_chunk(), self._chunk(Delta(content=block.text))]
        return []

    def _on_reasoning_start(self, event: ContentBlockStart) -> list[ChatCompletionChunk]:
        if self._hide_reasoning:
            return []
        block = event.content_block
        index = self._reasoning_index[event.index] = len(self._reasoning_index)
        if block.type == "redacted_thinking":
            delta = Delta(reasoning_details=[redacted_detail(index, block.data)])
            return [*self._role_chunk(), self._chunk(delta)]
        if block.thinking:
            return [*self._role_chunk(), self._chunk(self._thinking(index, block.thinking))]
        return []

    def _thinking(self, index: int, text: str) -> Delta:
        return Delta(
            reasoning_content=text, reasoning=text, reasoning_details=[text_detail(index, text)]
        )

    def _on_delta(self, event: ContentBlockDelta) -> list[ChatCompletionChunk]:
        delta = event.delta
        if delta.type == "text_delta" and delta.text:
            return [*self._role_chunk(), self._chunk(Delta(content=delta.text))]
        reasoning_index = self._reasoning_index.get(event.index)
        if delta.type == "thinking_delta" and delta.thinking and reasoning_index is not None:
            chunk = self._chunk(self._thinking(reasoning_index, delta.thinking))
            return [*self._role_chunk(), chunk]
        if delta.type == "signature_delta" and delta.signature and reasoning_index is not None:
            signed = Delta(reasoning_details=[text_detail(reasoning_index, "", delta.signature)])
            return [*self._role_chunk(), self._chunk(signed)]
        if event.index in self._answer_blocks and delta.type == "input_json_delta":
            if not delta.partial_json:
                return []
            self._answer_blocks[event.index] = True
            return [*self._role_chunk(), self._chunk(Delta(content=delta.partial_json))]
        if delta.type == "input_json_delta" and delta.partial_json:
            tool_index = self._tool_index.get(event.index)
            if tool_index is None:  # arguments for a block that never started
                return []
            self._args_seen[event.index] = True
            return [self._arguments(tool_index, delta.partial_json)]
        # signature_delta, citations_delta, empty fragments: nothing for the client.
        return []

    def _on_block_stop(self, event: ContentBlockStop) -> list[ChatCompletionChunk]:
        if self._answer_blocks.get(event.index) is False:
            self._answer_blocks[event.index] = True  # an empty answer is still "{}"
            return [*self._role_chunk(), self._chunk(Delta(content="{}"))]
        tool_index = self._tool_index.get(event.index)
        if tool_index is None or self._args_seen[event.index]:
            return []
        # A zero-argument tool streams only "": give clients something json.loads accepts.
        self._args_seen[event.index] = True
        return [self._arguments(tool_index, "{}")]

    def _on_message_stop(self) -> list[ChatCompletionChunk]:
        if not self._started:
            # An empty "success" would defeat failover: treat it as a broken stream.
            raise ModelError(
                "The model provider sent an empty stream",
                detail="anthropic stream: message_stop without message_start",
            )
        self._finished = True
        reason: FinishReason = finish_reason(
            self._stop_reason, made_tool_calls=bool(self._tool_index)
        )
        out = self._role_chunk()
        out.append(self._chunk(Delta(), finish=reason))
        out.append(
            ChatCompletionChunk(
                id=self._id,
                created=self._created,
                model=self._model,
                choices=[],
                usage=usage_from(self._usage),
            )
        )
        return out

    # ------------------------------------------------------------ helpers

    def _role_chunk(self) -> list[ChatCompletionChunk]:
        if self._role_sent:
            return []
        self._role_sent = True
        return [self._chunk(Delta(role="assistant", content=""))]

    def _arguments(self, tool_index: int, fragment: str) -> ChatCompletionChunk:
        call = ToolCallDelta(index=tool_index, function=FunctionDelta(arguments=fragment))
        return self._chunk(Delta(tool_calls=[call]))

    def _chunk(self, delta: Delta, finish: FinishReason | None = None) -> ChatCompletionChunk:
        return ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model,
            choices=[ChunkChoice(delta=delta, finish_reason=finish)],
            usage=self._usage_field,
        )

    @staticmethod
    def _decode(decoder: msgspec.json.Decoder[Any], event: UpstreamEvent) -> Any:
        try:
            return decoder.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ModelError(
                "The model provider sent a malformed stream event",
                detail=f"anthropic {event.event or 'event'}: {exc}",
            ) from exc


__all__ = ["AnthropicStreamTranslator"]
