"""Reverse API NDJSON stream -> canonical chunks.

One translator per stream; it owns the stream's state (id, model, whether the end
line came). The core feeds it one NDJSON line at a time, in order.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from router_core.plugin_api import (
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    ModelError,
    UpstreamEvent,
)

from viberouter_reverse import wire
from viberouter_reverse.errors import stream_failure
from viberouter_reverse.response import FINISH, completion_id, usage


class ReverseStreamTranslator:
    """``start`` -> role chunk; ``word`` -> content chunk; ``end`` -> finish chunk and
    usage chunk; ``error`` -> the RouterError the core sends as the stream's last event."""

    __slots__ = ("_created", "_ended", "_id", "_model")

    def __init__(self, model: str) -> None:
        self._id = ""
        self._created = 0
        self._model = model
        self._ended = False

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one NDJSON line."""
        try:
            line = wire.event_decoder.decode(event.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ModelError(
                "The model provider sent a malformed chunk", detail=f"{exc}: {event.data[:200]}"
            ) from exc
        if isinstance(line, wire.Start):
            self._id, self._created = completion_id(line.id), line.created
            # the contract's model rule: the upstream's name, else the deployment's
            self._model = line.model or self._model
            return [self._chunk(Delta(role="assistant", content=""))]
        if not self._id:
            raise ModelError("The model provider's stream is out of order", detail=event.data[:200])
        if isinstance(line, wire.Word):
            return [self._chunk(Delta(content=line.text))]
        if isinstance(line, wire.End):
            self._ended = True
            finish = self._chunk(Delta(), FINISH[line.stop])
            totals = ChatCompletionChunk(
                id=self._id,
                created=self._created,
                model=self._model,
                choices=[],
                usage=usage(line.words_in, line.words_out),
            )
            return [finish, totals]
        raise stream_failure(line)

    def close(self) -> list[ChatCompletionChunk]:
        """The body ended: fine after ``end``, a ``ModelError`` otherwise."""
        if not self._ended:
            raise ModelError(
                "The model provider's stream ended early", detail="no end line in the stream"
            )
        return []

    def _chunk(
        self, delta: Delta, finish: Literal["stop", "length"] | None = None
    ) -> ChatCompletionChunk:
        choice = ChunkChoice(index=0, delta=delta, finish_reason=finish)
        return ChatCompletionChunk(
            id=self._id, created=self._created, model=self._model, choices=[choice]
        )
