"""The dialect contract: what an endpoint supplies to the one request pipeline.

A dialect is one client-facing API (OpenAI chat, Anthropic Messages, ...). The
canonical form inside the core stays OpenAI chat (``api/chat.py``); a dialect only
translates at the edges. Everything else is the pipeline's (``router_core/pipeline.py``):
authenticate, decode, route, guard, admit, dispatch, respond, account::

    async def my_endpoint(request: web.Request) -> web.StreamResponse:
        return await pipeline.run(request, MY_DIALECT)

A :class:`Dialect` (subclass it; the defaults are OpenAI's behaviour) supplies:

``name``
    Short id (``"openai_chat"``), as plugins name it in ``native_dialects``.
``credential(headers) -> str | None``
    The caller's key in the ``Bearer <key>`` form ``auth.authenticate`` reads, from
    the header forms this API accepts (default ``Authorization``; Anthropic adds
    ``x-api-key``). None when no credential was sent (401 invalid_api_key).
``decode(body: bytes) -> ChatCall``  (abstract)
    The typed canonical request (400 ``invalid_request`` naming the field path on
    anything malformed), the model names it may be served by (the primary first,
    then the client's fallbacks), the stream flag, and the native body kept as sent.
``encode_response(completion, call) -> bytes``  (abstract)
    The JSON body of a non-streamed answer (``content_type`` is its media type).
``stream_encoder(call) -> StreamEncoder``  (abstract)
    A fresh per-stream encoder, canonical chunks -> native SSE frames:
    ``start()`` (frames sent when the stream commits), ``feed(chunk)``,
    ``feed_as_sent(chunk, data)`` (a chunk whose upstream event's ``data`` is that
    chunk as it came, contract 2.6: the chat dialect sends ``data``), ``close()``
    (after the last chunk of a stream that ended well), ``error(err)`` (the in-band
    error event that ends a stream), ``keepalive()`` (sent while the upstream is silent).
``error_response(err, headers) -> (status, body)``
    An error answer: its HTTP status and JSON body; it may add headers to
    ``headers`` (which already hold the router's own, Retry-After included).
``admitted_headers(admission, now)`` / ``refused_headers(limits, retry_after, now)``
    Rate-limit headers in the dialect's own names, sent beside the router's
    ``X-RateLimit-*`` (default none).
``response_headers(headers)``
    Extra headers for every answer (default none; Anthropic: ``request-id``).

``native_endpoint`` / ``forwarded_headers(headers)``
    Native pass-through (``router_core/native_call.py``): a dialect with a
    ``native_endpoint`` is served natively by deployments whose plugin lists its
    ``name`` in ``native_dialects`` and builds a request for it
    (``build_native_request``; ``InvalidRequest`` there means "translate instead").
    ``ChatCall.body`` goes upstream with only ``model`` changed, the upstream's bytes
    come back unchanged, and the plugin's usage tap keeps limits and billing exact.
    A call that cannot be translated at all (``ChatCall.untranslatable``) is tried
    on native deployments only.

Non-chat endpoints (``/v1/embeddings``, ``router_core/embeddings_call.py``) have a
call type of their own and run the same steps (``pipeline.authenticate``,
``resolve_targets``, ``admit``, ``Dispatcher.run``, ``accounting.settle``), with the
errors of ``openai_chat``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

import msgspec
from aiohttp import web

from router_core.api.chat import ChatCompletion, ChatCompletionChunk, ChatRequest, ErrorBody
from router_core.errors import RouterError
from router_core.limits.base import Admission, Limits
from router_core.plugin_api import UsageTap


@dataclass(slots=True)
class ChatCall:
    """A client's chat request as its dialect decoded it."""

    request: ChatRequest  # canonical (OpenAI chat) form
    body: bytes  # the native body exactly as received (extras, native pass-through)
    models: tuple[str, ...]  # the primary model, then the client's fallbacks
    stream: bool
    #: Why the request cannot be translated (a feature only a native upstream has);
    #: then only deployments that serve the dialect natively are tried, and this is
    #: the answer when none can. ``request`` is then only a stand-in for the estimates.
    untranslatable: RouterError | None = None
    #: Set by the pipeline when a deployment served the call natively: its usage tap
    #: (which has read the whole answer) and the provider.
    native_tap: UsageTap | None = None
    native_provider: str = ""
    #: JSON that plugins' ``extra_params`` are decoded from when it is not ``body``
    #: (a dialect whose body is not OpenAI-shaped gives its canonical form here).
    extras_body: bytes | None = None
    #: The prompt-token estimate the call was admitted with (set by the pipeline).
    prompt_estimate: int = 0

    @property
    def model(self) -> str:
        """The model name the client asked for first."""
        return self.models[0]

    @property
    def extras_source(self) -> bytes:
        """What plugins' request extras are decoded from."""
        return self.extras_body if self.extras_body is not None else self.body


class StreamEncoder(Protocol):
    """Per-stream state: canonical chunks in, the dialect's SSE frames out."""

    def start(self) -> bytes:
        """Frames sent when the stream commits, before any chunk (may be ``b""``)."""
        ...

    def feed(self, chunk: ChatCompletionChunk) -> bytes:
        """The frames for one chunk (may be ``b""``: e.g. usage the client did not ask for)."""
        ...

    def feed_as_sent(self, chunk: ChatCompletionChunk, data: str) -> bytes:
        """The frames for a chunk whose upstream event's ``data`` is that chunk, JSON
        as the upstream wrote it (stream_iter.Forwarded); the same as ``feed(chunk)``
        for a client that reads them alike."""
        ...

    def close(self) -> bytes:
        """The frames after the last chunk of a stream that ended well."""
        ...

    def error(self, err: RouterError) -> bytes:
        """The in-band error event that ends a stream after its first byte."""
        ...

    def keepalive(self) -> bytes:
        """What is sent while the upstream is silent (an SSE comment by default)."""
        ...


#: The SSE comment sent while the upstream is silent (every SSE client ignores it).
KEEPALIVE_COMMENT = b": keep-alive\n\n"
_encoder = msgspec.json.Encoder()


class Dialect(abc.ABC):
    """One client-facing API (see the module docstring); the defaults are OpenAI's."""

    name: ClassVar[str]
    content_type: ClassVar[str] = "application/json"
    #: The endpoint plugins see in ``build_native_request`` for this dialect's calls
    #: (None: never served natively; see native_call.py).
    native_endpoint: ClassVar[str | None] = None

    def credential(self, headers: Mapping[str, str]) -> str | None:
        """The caller's key as ``Bearer <key>`` (default: the Authorization header)."""
        return headers.get("Authorization")

    @abc.abstractmethod
    def decode(self, body: bytes) -> ChatCall:
        """The canonical call; RouterError (400) on anything malformed."""

    @abc.abstractmethod
    def encode_response(self, completion: ChatCompletion, call: ChatCall) -> bytes:
        """The JSON body of a non-streamed answer."""

    @abc.abstractmethod
    def stream_encoder(self, call: ChatCall) -> StreamEncoder:
        """A fresh encoder for one stream."""

    def error_response(self, err: RouterError, headers: dict[str, str]) -> tuple[int, bytes]:
        """Status and body of an error answer (default: the seed shape
        ``{"error": "<code>", "message": "..."}`` at the error's own status)."""
        return err.http_status, _encoder.encode(ErrorBody(err.code, err.message))

    def admitted_headers(self, admission: Admission, now: float) -> dict[str, str]:
        """Dialect-named rate-limit headers of an admitted request (default none)."""
        return {}

    def refused_headers(
        self, limits: Limits, retry_after: float | None, now: float
    ) -> dict[str, str]:
        """Dialect-named rate-limit headers of a refused request (default none)."""
        return {}

    def forwarded_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Client headers a native upstream gets, names in lower case, never the
        client's credentials (default none)."""
        return {}

    def with_error_format(self, error_format: str | None) -> Dialect:
        """This dialect for a key that chose an error format (``ApiKey.error_format``);
        dialects with one fixed shape (Anthropic, Responses) stay as they are."""
        return self

    def response_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Extra headers for every answer, from the router's own (default none)."""
        return {}


#: The dialect serving a request: the request boundary renders its errors in that shape.
DIALECT: web.RequestKey[Dialect] = web.RequestKey("viberouter_dialect")
