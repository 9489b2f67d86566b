"""Reverse API answer (2xx JSON body) -> canonical ChatCompletion."""

from __future__ import annotations

from typing import Literal

import msgspec
from router_core.plugin_api import (
    ChatCompletion,
    Choice,
    ModelError,
    ResponseMessage,
    Usage,
)

from viberouter_reverse import wire

FINISH: dict[wire.Stop, Literal["stop", "length"]] = {"end": "stop", "limit": "length"}


def parse_answer(body: bytes) -> ChatCompletion:
    """The completion for a non-streamed answer; ``ModelError`` if it is garbage."""
    try:
        answer = wire.answer_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError("The model provider sent a malformed response", detail=str(exc)) from exc
    return ChatCompletion(
        id=completion_id(answer.id),
        created=answer.created,
        model=answer.model,
        choices=[
            Choice(
                index=0,
                message=ResponseMessage(content=answer.text),
                finish_reason=FINISH[answer.stop],
            )
        ],
        usage=usage(answer.words_in, answer.words_out),
    )


def completion_id(upstream_id: str) -> str:
    """A ``chatcmpl-`` id that still shows the upstream's id (handy in logs)."""
    return f"chatcmpl-{upstream_id}"


def usage(words_in: int, words_out: int) -> Usage:
    """The Reverse API counts words; one word is billed as one token."""
    return Usage(
        prompt_tokens=words_in, completion_tokens=words_out, total_tokens=words_in + words_out
    )
