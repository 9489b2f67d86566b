"""The Reverse API's own wire format, as msgspec Structs (decoders built once).

``POST {base_url}/v1/reverse`` with header ``X-Api-Key``::

    {"model": "reverse-1", "turns": [{"from": "user", "text": "hello world"}],
     "stream": false, "max_words": 50, "mode": "words"}

A non-streamed answer is one JSON document (:class:`Answer`); a streamed one is
NDJSON, one :data:`StreamEvent` per line: ``start``, ``word``..., then ``end`` (or
``error``). Failures are a non-2xx status with ``{"code": ..., "message": ...}``.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Stop = Literal["end", "limit"]


class Turn(msgspec.Struct):
    """One message of the conversation."""

    from_: Literal["system", "user", "bot"] = msgspec.field(name="from")
    text: str


class Request(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The request body."""

    model: str
    turns: list[Turn]
    stream: bool = False
    max_words: int | None = None
    mode: Literal["words", "letters"] = "words"


class Answer(msgspec.Struct, kw_only=True):
    """A non-streamed answer."""

    id: str
    created: int
    model: str
    text: str
    stop: Stop
    words_in: int
    words_out: int


class Start(msgspec.Struct, tag="start", tag_field="type"):
    """First line of a stream."""

    id: str
    created: int
    model: str


class Word(msgspec.Struct, tag="word", tag_field="type"):
    """One word of the answer, with the space that follows it."""

    text: str


class End(msgspec.Struct, tag="end", tag_field="type"):
    """Last line of a successful stream."""

    stop: Stop
    words_in: int
    words_out: int


class Failure(msgspec.Struct, tag="error", tag_field="type"):
    """The upstream failed after the stream started."""

    code: str
    message: str = ""


StreamEvent = Start | Word | End | Failure


class ErrorBody(msgspec.Struct):
    """The body of a non-2xx answer."""

    code: str
    message: str = ""


request_encoder = msgspec.json.Encoder()
answer_decoder = msgspec.json.Decoder(Answer)
event_decoder = msgspec.json.Decoder(StreamEvent)
error_decoder = msgspec.json.Decoder(ErrorBody)
