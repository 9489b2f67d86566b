"""The ``openai_chat`` dialect: POST /v1/chat/completions, the identity dialect
(the canonical form is OpenAI chat, so decode and encode are msgspec's)."""

from __future__ import annotations

import msgspec

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest, ErrorBody, Usage
from router_core.api.decoding import decode_chat_request
from router_core.api.openai_errors import openai_error
from router_core.dialects.base import KEEPALIVE_COMMENT, ChatCall, Dialect
from router_core.errors import RouterError
from router_core.token_runs import EventTemplate, TokenRun

_decoder = msgspec.json.Decoder(ChatRequest)
_encoder = msgspec.json.Encoder()
DONE = b"data: [DONE]\n\n"
_NULL_USAGE = ',"usage":null'
#: A JSON string no upstream event holds (``feed_run`` finds where a text goes with it).
_PROBE = '"\\u0000viberouter-run\\u0000"'


def decode_request(body: bytes) -> ChatRequest:
    """The typed request, or 400 invalid_request naming the field path (every bad
    input a 400: api/decoding.py)."""
    return decode_chat_request(_decoder, body)


def error_body(err: RouterError, nested: bool) -> bytes:
    """The seed shape ``{"error": code, "message": ...}``, or OpenAI's nested one."""
    if nested:
        return _encoder.encode(openai_error(err))
    return _encoder.encode(ErrorBody(err.code, err.message))


class OpenAIChatStream:
    """OpenAI chunk frames; the usage chunk only for clients that asked for it
    (``stream_options.include_usage``, and then every chunk carries ``usage: null``).

    A chunk an OpenAI-compatible upstream sent in this very form goes out as the
    upstream's text (:meth:`feed_as_sent`): no encoding, and fields the router would
    not have written (key order, spacing) stay as they came; a run of such text-token
    events (:meth:`feed_run`) as the run's bytes."""

    __slots__ = ("_include_usage", "_nested", "_parts", "_template")

    def __init__(self, include_usage: bool, nested: bool = False) -> None:
        self._include_usage = include_usage
        self._nested = nested
        self._template: EventTemplate | None = None
        self._parts: tuple[bytes, bytes] | None = None

    def start(self) -> bytes:
        """Nothing: OpenAI streams begin with their first chunk."""
        return b""

    def feed(self, chunk: ChatCompletionChunk) -> bytes:
        """One ``data:`` frame (none for usage the client did not ask for)."""
        if isinstance(chunk.usage, Usage) and not chunk.choices:
            if not self._include_usage:
                return b""
        else:
            chunk.usage = None if self._include_usage else msgspec.UNSET
        return b"data: " + _encoder.encode(chunk) + b"\n\n"

    def feed_as_sent(self, chunk: ChatCompletionChunk, data: str) -> bytes:
        """``data`` as the frame, with a top-level ``"usage":null`` (``chunk.usage`` is
        None when the data has one) added or removed to match the client's choice;
        the chunk encoded when that cannot be done safely or the data spans lines."""
        usage = chunk.usage
        if "\n" in data or isinstance(usage, Usage):
            return self.feed(chunk)
        if self._include_usage:
            if usage is None:
                return b"data: " + data.encode() + b"\n\n"
            body = data.rstrip()  # a JSON object: its last character is the brace
            return b"data: " + body[:-1].encode() + b',"usage":null}\n\n'
        if usage is msgspec.UNSET:
            return b"data: " + data.encode() + b"\n\n"
        # The one "usage" in the text is the top-level key the chunk says is there.
        cut = data.find(_NULL_USAGE)
        if cut > 0 and data.count('"usage"') == 1:
            return b"data: " + (data[:cut] + data[cut + len(_NULL_USAGE) :]).encode() + b"\n\n"
        return self.feed(chunk)

    def feed_run(self, run: TokenRun) -> bytes | None:
        """The frames of a run of text-token events: what :meth:`feed_as_sent` gives
        each of them, made once per template (None: they need a chunk each)."""
        template = run.template
        if template is not self._template:
            self._template, self._parts = template, self._frame_parts(template)
        parts = self._parts
        if parts is None:
            return None
        head, tail = parts
        if head == template.head and tail == template.tail:
            return run.raw  # the frames are the events as they came
        return b"".join([head + string + tail for string in run.strings])

    def _frame_parts(self, template: EventTemplate) -> tuple[bytes, bytes] | None:
        """The frame of the template's event around its JSON string. feed_as_sent
        edits only the top-level ``usage`` key, which a JSON string cannot hold, so
        the frame of a probe string shows where any other string goes."""
        source = template.source
        if source.chunk.usage is (None if self._include_usage else msgspec.UNSET):
            # "usage":null there exactly when the client asked for it: as it came
            return template.head, template.tail
        chunk = msgspec.structs.replace(source.chunk)  # feed() may set its usage
        frame = self.feed_as_sent(chunk, source.prefix + _PROBE + source.suffix)
        probe = _PROBE.encode()
        if frame.count(probe) != 1:
            return None  # the chunk was encoded: each event needs its own
        head, _, tail = frame.partition(probe)
        return head, tail

    def close(self) -> bytes:
        """``data: [DONE]``."""
        return DONE

    def error(self, err: RouterError) -> bytes:
        """``data: {"error": ..., "message": ...}`` (or the nested shape)."""
        return b"data: " + error_body(err, self._nested) + b"\n\n"

    def keepalive(self) -> bytes:
        """An SSE comment."""
        return KEEPALIVE_COMMENT


class OpenAIChat(Dialect):
    """POST /v1/chat/completions (see dialects/base.py for the contract). Errors in the
    seed's shape, or with ``nested`` in OpenAI's (``server.error_format = "openai"``)."""

    name = "openai_chat"

    def __init__(self, nested: bool = False) -> None:
        self.nested = nested

    def with_error_format(self, error_format: str | None) -> OpenAIChat:
        """This dialect answering errors in ``error_format`` (None: as it is)."""
        if error_format is None or (error_format == "openai") == self.nested:
            return self
        return OPENAI_CHAT_NESTED if error_format == "openai" else OPENAI_CHAT

    def error_response(self, err: RouterError, headers: dict[str, str]) -> tuple[int, bytes]:
        """The error's own status; the body in this dialect's error format."""
        return err.http_status, error_body(err, self.nested)

    def decode(self, body: bytes) -> ChatCall:
        """The request as sent; ``models`` adds the client's fallbacks in order."""
        req = decode_chat_request(_decoder, body)
        names = [req.model]
        for extra in req.models or ():
            if extra not in names:
                names.append(extra)
        return ChatCall(req, body, tuple(names), req.stream)

    def encode_response(self, completion: ChatCompletion, call: ChatCall) -> bytes:
        """The completion as msgspec encodes it."""
        return _encoder.encode(completion)

    def stream_encoder(self, call: ChatCall) -> OpenAIChatStream:
        """Frames for this call's stream options."""
        return OpenAIChatStream(call.request.include_usage, self.nested)


OPENAI_CHAT = OpenAIChat()
OPENAI_CHAT_NESTED = OpenAIChat(nested=True)
