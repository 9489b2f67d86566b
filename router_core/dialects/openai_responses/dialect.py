"""The ``openai_responses`` dialect: POST /v1/responses through the one pipeline.

Decode keeps the typed Responses request beside the canonical one; a request that
refers to stored state (``previous_response_id``, ``item_reference`` items) gets its
canonical form only once :func:`expand` has read that state for the caller's
account, which the pipeline does right after authentication.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import msgspec

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest, Message
from router_core.api.decoding import check_nesting, decode_json, may_nest_deeper
from router_core.dialects.base import KEEPALIVE_COMMENT, ChatCall, Dialect
from router_core.dialects.openai_responses.errors import ResponsesInvalid, error_body
from router_core.dialects.openai_responses.from_chat import from_completion, new_id
from router_core.dialects.openai_responses.stream import ResponsesStreamEncoder
from router_core.dialects.openai_responses.to_chat import to_chat_request
from router_core.dialects.openai_responses.wire import (
    InputItem,
    Response,
    ResponsesRequest,
)
from router_core.errors import RouterError

NAME = "openai_responses"
_decoder = msgspec.json.Decoder(ResponsesRequest)
_encode = msgspec.json.Encoder().encode
#: OpenAI's metadata limit: at most 16 pairs, keys up to 64 characters.
MAX_METADATA = 16


@dataclass(slots=True)
class ResponsesCall(ChatCall):
    """A Responses request: the typed native request, this answer's id and clock,
    the resolved conversation, and (once answered) the response for the store."""

    native: ResponsesRequest = field(default_factory=lambda: ResponsesRequest(model="-"))
    response_id: str = ""
    created_at: int = 0
    history: list[InputItem] = field(default_factory=list)
    own_input: list[InputItem] = field(default_factory=list)
    needs_state: bool = False
    result: Response | None = None
    encoder: ResponsesStreamEncoder | None = None

    def finished_response(self) -> Response | None:
        """The translated answer to store: the JSON one, or a stream's once it completed
        (a natively served answer is in ``native_tap`` instead)."""
        if self.result is not None:
            return self.result
        if self.encoder is not None and self.encoder.finished:
            response = self.encoder.response
            return response if response.status != "failed" else None
        return None


def free_form(req: ResponsesRequest) -> Iterator[tuple[str, object]]:
    """The free-form (``dict[str, Any]``) parts of a Responses request, with their paths."""
    for i, tool in enumerate(req.tools or ()):
        yield f"$.tools[{i}].parameters", tool.parameters
        yield f"$.tools[{i}].format", tool.format
    fmt = req.text.format if req.text is not None else None
    if fmt is not None and not isinstance(fmt, msgspec.UnsetType):
        yield "$.text.format.schema", fmt.schema
    choice = req.tool_choice
    if choice is not None and not isinstance(choice, str):
        yield "$.tool_choice.tools", choice.tools
    for name in ("stream_options", "conversation", "prompt", "context_management"):
        yield f"$.{name}", getattr(req, name)


def decode_request(body: bytes) -> ResponsesRequest:
    """The typed request, or 400 naming the field path (free-form parts bounded in
    depth, as on chat)."""
    req = decode_json(_decoder, body)
    if may_nest_deeper(body):
        check_nesting(free_form(req))
    if req.metadata and (
        len(req.metadata) > MAX_METADATA or any(len(k) > 64 for k in req.metadata)
    ):
        raise ResponsesInvalid(
            "metadata takes at most 16 pairs with keys up to 64 characters", param="metadata"
        )
    return req


def own_items(req: ResponsesRequest) -> list[InputItem]:
    """The request's own input as items (a string is one user message)."""
    if isinstance(req.input, str):
        return [InputItem(role="user", content=req.input)]
    return list(req.input)


def stand_in(req: ResponsesRequest, body: bytes) -> ChatRequest:
    """The canonical stand-in of a request not (yet) translated: one user message as
    long as the whole body, so size guards and token estimates err on the high side."""
    text = body.decode("utf-8", "replace")
    return ChatRequest(model=req.model, messages=[Message(role="user", content=text)])


class ResponsesStream:
    """The pipeline's stream encoder: the Responses event stream for one call."""

    __slots__ = ("_encoder",)

    def __init__(self, encoder: ResponsesStreamEncoder) -> None:
        self._encoder = encoder

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``."""
        return b"".join(self._encoder.start())

    def feed(self, chunk: ChatCompletionChunk) -> bytes:
        """The chunk's events."""
        return b"".join(self._encoder.feed(chunk))

    def feed_as_sent(self, chunk: ChatCompletionChunk, data: str) -> bytes:
        """The chunk's events (the upstream's data is not a Responses event)."""
        return b"".join(self._encoder.feed(chunk))

    def close(self) -> bytes:
        """Close the open items, then ``response.completed`` (or ``.incomplete``)."""
        return b"".join(self._encoder.finish())

    def error(self, err: RouterError) -> bytes:
        """An ``error`` event, then ``response.failed``."""
        return b"".join(self._encoder.fail(err))

    def keepalive(self) -> bytes:
        """An SSE comment (Responses clients ignore comments)."""
        return KEEPALIVE_COMMENT


class OpenAIResponses(Dialect):
    """POST /v1/responses (see dialects/base.py for the contract)."""

    name: ClassVar[str] = NAME
    content_type: ClassVar[str] = "application/json"
    native_endpoint: ClassVar[str | None] = "responses"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        make_id: Callable[[str], str] = new_id,
    ) -> None:
        self._clock = clock
        self._new_id = make_id

    def decode(self, body: bytes) -> ResponsesCall:
        """The typed request; its canonical form now when it needs no stored state."""
        req = decode_request(body)
        names = [req.model]
        for extra in req.models or ():
            if extra not in names:
                names.append(extra)
        own = own_items(req)
        needs_state = req.previous_response_id is not None or any(
            item.type == "item_reference" for item in own
        )
        chat, problem = stand_in(req, body), None
        if not needs_state:  # else expand() translates, once the stored state is read
            try:
                chat = to_chat_request(req, [])
            except ResponsesInvalid as exc:
                problem = exc  # only a native deployment can serve it
        return ResponsesCall(
            request=chat,
            body=body,
            models=tuple(names),
            stream=req.stream,
            native=req,
            response_id=self._new_id("resp"),
            created_at=int(self._clock()),
            own_input=own,
            needs_state=needs_state,
            untranslatable=problem,
        )

    def encode_response(self, completion: ChatCompletion, call: ChatCall) -> bytes:
        """The response object (kept on the call for the store)."""
        assert isinstance(call, ResponsesCall)
        call.result = from_completion(
            call.native,
            completion,
            response_id=call.response_id,
            created_at=call.created_at,
            completed_at=int(self._clock()),
            make_id=self._new_id,
        )
        return _encode(call.result)

    def stream_encoder(self, call: ChatCall) -> ResponsesStream:
        """A fresh event encoder (kept on the call for the store)."""
        assert isinstance(call, ResponsesCall)
        call.encoder = ResponsesStreamEncoder(
            call.native,
            response_id=call.response_id,
            created_at=call.created_at,
            clock=lambda: int(self._clock()),
            make_id=self._new_id,
        )
        return ResponsesStream(call.encoder)

    def error_response(self, err: RouterError, headers: dict[str, str]) -> tuple[int, bytes]:
        """OpenAI's nested error shape, at the error's own status."""
        return err.http_status, _encode(error_body(err))


OPENAI_RESPONSES = OpenAIResponses()

__all__ = [
    "NAME",
    "OPENAI_RESPONSES",
    "OpenAIResponses",
    "ResponsesCall",
    "ResponsesStream",
    "decode_request",
    "own_items",
]
