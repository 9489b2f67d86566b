"""THE plugin contract: the only core module a provider plugin imports.

A provider plugin is a subclass of :class:`ProviderPlugin`, registered under the
entry point group ``viberouter.providers`` (the entry name is what config's
``plugin = "..."`` names). It is a pure translator between the router's canonical
types (the OpenAI shapes re-exported here) and one upstream API:

* it never does network I/O, never sees the client, never touches limits or metrics;
* the core sends the :class:`UpstreamRequest` it builds, applies timeouts, retries
  and fallbacks, decodes the response framing (JSON, SSE, NDJSON) and feeds the
  plugin one :class:`UpstreamEvent` at a time.

Ownership: the core owns the HTTP session, cancellation and accounting; the plugin
owns protocol details and per-stream state (tool-call indexes, usage, finish reason).

Errors: a plugin raises :class:`RouterError` subclasses only. ``InvalidRequest``
from :meth:`ProviderPlugin.build_request` means "this provider cannot serve this
request" (e.g. ``n > 1`` where unsupported): the core tries the next deployment of
the route and, if none can, returns that error to the client. Any other exception
escaping a plugin is a bug and becomes ``server_error``.

Request extras: fields the OpenAI API lacks (``top_k`` ...) reach a plugin only when
it declares them in ``extra_params`` (a msgspec Struct); the core decodes them from
the raw body once per request and passes the instance as ``extras``.

The ``model`` rule: the ``model`` of every ``ChatCompletion`` and every chunk a plugin
returns is the model name **as the upstream reported it** (``gpt-4o-2024-08-06``,
``claude-sonnet-4-20250514``), or ``deployment.model`` when the upstream names none;
never the name the client sent (a route, an alias, a fallback) and never the router's
deployment id. One stream names one model: the name is fixed by the first chunk the
translator emits. Why: it is what OpenAI itself does (the answer names the snapshot
that served, not the alias asked for), so SDKs, tokenizer lookups and cost trackers
that key on ``model`` keep working through the router; the router's own names for
what answered travel in the ``X-VibeRouter-Deployment`` / ``-Provider`` headers.

Versioning: :data:`CONTRACT_VERSION` is ``(major, minor)``. The minor grows when the
contract gains something old plugins can ignore (an optional method with a default
on :class:`ProviderPlugin`, a helper, a field with a default); the major grows when
something a plugin relies on is removed or changes meaning. A plugin declares the
version it was written against in ``ProviderPlugin.contract_version``; the router
loads it when the majors are equal and the plugin's minor is not newer than the
router's (:func:`contract_compatible`), and otherwise refuses it at start-up naming
both versions. A plugin that can use a newer feature when present checks
``CONTRACT_VERSION`` at run time. History: 1 the first contract; 2.0
``Deployment.params`` removed (it was never set), ``count_tokens`` documented as an
optional method the core calls directly, the ``model`` rule, ``split_events`` moved
to :mod:`router_core.plugin_testing`; 2.1 native dialects: ``native_dialects``,
``build_native_request`` and ``usage_tap`` (:class:`UsageTap`), optional; 2.2
embeddings: ``build_embeddings_request`` and ``parse_embeddings_response`` with the
``EmbeddingRequest`` / ``EmbeddingResponse`` types and the card capability
``embeddings``, optional; 2.3 translation fidelity: the canonical request carries
``cache_control`` breakpoints (:class:`CacheControl` on messages, content parts and
tools), OpenRouter's ``reasoning`` object (:class:`ReasoningConfig`) and reasoning
sent back on assistant turns (``reasoning_details`` of :class:`ReasoningDetail`,
LiteLLM's ``thinking_blocks`` of :class:`ThinkingBlock`); answers and deltas carry
``reasoning`` and ``reasoning_details`` beside ``reasoning_content``; cards gain
the ``structured_outputs`` and ``reasoning`` capabilities. A plugin that cannot use
a breakpoint ignores it (caching is an optimisation, never a different answer).

Usage fields (2.3, what accounting and pricing read): ``prompt_tokens`` counts every
input token, cached or not; ``prompt_tokens_details.cached_tokens`` the ones read
from a prompt cache, ``prompt_tokens_details.cache_write_tokens`` the ones written
to it (OpenRouter's name; Anthropic's ``cache_creation_input_tokens``);
``completion_tokens`` includes reasoning, and
``completion_tokens_details.reasoning_tokens`` says how much of it was reasoning.
2.4 model discovery: ``build_models_request`` and ``parse_models_response``, optional.
2.5 prices and images: the class attributes ``price_provider`` (whose entry in the
maintained genai-prices list prices the plugin's cards) and ``needs_inline_images``
(the core inlines fetched ``https`` images as ``data:`` URLs); :class:`Pricing` gains
cache-read, cache-write and reasoning rates, long-context tiers (:class:`PriceTier`)
and ``source``.
2.6 events sent as they came: the optional ``as_sent_translator`` returns an
:class:`AsSentTranslator`, which says after each event whether its one chunk is the
event itself; the core then sends an OpenAI chat client the event's own bytes.
2.7 one-hour cache writes: ``prompt_tokens_details.cache_write_1h_tokens``, the part
of the cache writes made with a one-hour TTL (Anthropic's
``cache_creation.ephemeral_1h_input_tokens``), billed at
``Pricing.cache_write_1h_per_mtok``; left unset, every write pays the cache-write rate.
2.8 token templates: an :class:`AsSentTranslator` may also say, after an event that
was one more text token of a started choice, that any event shaped like it with
another text would be the same (``token_template``, a :class:`TokenTemplate`); the
core then reads such events' bytes without calling ``feed``.

Native dialects (2.1, optional): a plugin whose upstream speaks a client-facing API
itself (the anthropic plugin: ``anthropic_messages``) lists it in ``native_dialects``.
When such a deployment serves a request of that dialect, the core sends the client's
own body (:meth:`ProviderPlugin.build_native_request` replaces the model and adds the
provider's credentials), relays the upstream's answer to the client unchanged, and
feeds it, without changing it, to the plugin's :class:`UsageTap` for usage, the stop
reason and in-band errors. Nothing is translated, so nothing is lost.
"""

from __future__ import annotations

import abc
import math
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final, Literal, Protocol

import msgspec

from router_core.api.chat import (
    AudioPart,
    CacheControl,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    CompletionTokensDetails,
    ContentPart,
    Delta,
    FilePart,
    FunctionCall,
    FunctionDelta,
    ImagePart,
    Message,
    NamedFunction,
    PromptTokensDetails,
    ReasoningConfig,
    ReasoningDetail,
    RefusalPart,
    ResponseMessage,
    TextPart,
    ThinkingBlock,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from router_core.api.embeddings import (
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
)
from router_core.api.models import Capabilities, ModelCard, PriceTier, Pricing
from router_core.errors import (
    ContentFilter,
    ContextLengthExceeded,
    InvalidRequest,
    ModelError,
    RouterError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from router_core.framing import UpstreamEvent, make_decoder

#: This contract's version, (major, minor); see "Versioning" above.
CONTRACT_VERSION: Final[tuple[int, int]] = (2, 8)
#: The major alone (what contract 1 called its version).
API_VERSION: Final[int] = CONTRACT_VERSION[0]


def contract_compatible(wanted: tuple[int, int]) -> bool:
    """Whether a plugin written against contract ``wanted`` runs on this router: same
    major, and a minor no newer than this router's."""
    major, minor = CONTRACT_VERSION
    return len(wanted) == 2 and wanted[0] == major and wanted[1] <= minor


Framing = Literal["json", "sse", "ndjson"]


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """What the core sends upstream. ``framing`` says how to read a 2xx body:
    ``json`` (one document), ``sse`` or ``ndjson`` (a stream of events).
    A ``local://`` URL is answered in-process by :meth:`ProviderPlugin.serve_local`."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    framing: Framing


@dataclass(frozen=True, slots=True)
class Deployment:
    """One callable model: a configured provider instance plus an upstream model id."""

    id: str  # "<provider>/<model>", unique in the catalog
    provider: str  # provider instance name (the config key)
    model: str  # the model id the upstream expects
    card: ModelCard  # merged card: plugin defaults + config overrides


@dataclass(slots=True)
class LocalResponse:
    """An in-process upstream's answer (offline providers, tests)."""

    status: int
    headers: Mapping[str, str]
    body: AsyncIterator[bytes]


class StreamTranslator(Protocol):
    """Per-stream state machine: upstream events in, canonical chunks out."""

    def feed(self, event: UpstreamEvent) -> list[ChatCompletionChunk]:
        """Translate one event. Raise a RouterError for an in-band upstream error."""
        ...

    def close(self) -> list[ChatCompletionChunk]:
        """The upstream body ended. Return the final chunks not yet emitted (finish
        chunk, then one usage chunk with ``choices=[]`` when usage is known), or
        raise ``ModelError`` if the stream ended before its terminal event."""
        ...


class AsSentTranslator(StreamTranslator, Protocol):
    """A stream translator that says which events need no translation (contract 2.6).

    After every ``feed(event)``, ``as_sent`` is True when that call returned exactly
    one chunk and the event's ``data`` *is* that chunk: its JSON decodes to the same
    canonical chunk, and nothing the chunk lacks was dropped from it (no unknown field,
    unless the plugin forwards those, no role, index, finish reason, model or usage
    the translator would have changed). The core may then send an OpenAI chat client
    the event's bytes instead of encoding the chunk, and reads the chunk itself for
    accounting and output filters as always. False is always safe.

    Optional (2.8): ``token_template``. A translator that has the attribute sets it
    after every ``feed``: a :class:`TokenTemplate` when that event was as sent, was
    one more text token (non-empty ``delta.content``, nothing else varying) of one
    started choice, and moved none of the translator's state, so that any event whose
    data is the template's ``prefix``, then a JSON string of non-empty text, then its
    ``suffix`` would come out as sent too, as that same chunk with the other text, and
    move nothing either. Otherwise None. While it is set, the core may take such
    events from the bytes without calling ``feed``; the next event of any other
    shape goes to ``feed`` as always. Return the same object while the template does
    not change (the core prepares each new one once). None is always safe."""

    as_sent: bool


class TokenTemplate(msgspec.Struct, frozen=True, gc=False):
    """An as-sent text-token event with its text cut out (contract 2.8, see
    :class:`AsSentTranslator`): the event's data is ``prefix`` + the JSON string of
    the chunk's one ``delta.content`` + ``suffix``, exactly as the upstream wrote it.
    ``chunk`` is that event's chunk (the core copies it, with another text, for a
    client that needs chunks); it must not change afterwards."""

    prefix: str
    suffix: str
    chunk: ChatCompletionChunk


class UsageTap(Protocol):
    """Per-answer reader of a natively relayed upstream answer (contract 2.1): it sees
    every event (or the whole JSON body) the client gets, and never changes them."""

    #: The upstream's stop reason, in its own words (``end_turn`` ...), once seen.
    stop_reason: str | None

    def feed(self, event: UpstreamEvent) -> bool:
        """Read one stream event. True when it carries content: the core may commit
        the stream there (before it, a failure can still move to another deployment).
        Raise the RouterError of an in-band upstream error event."""
        ...

    def close(self) -> None:
        """The stream ended; raise ``ModelError`` if it ended before its terminal event."""
        ...

    def read_body(self, body: bytes) -> None:
        """Read a whole 2xx JSON answer; ``ModelError`` if it is garbage."""
        ...

    def usage(self) -> Usage | None:
        """Usage read so far, canonical (prompt tokens include cache reads and writes),
        or None when the upstream reported none."""
        ...


class ProviderPlugin(abc.ABC):
    """Base class of every provider plugin. Instantiated once per configured
    provider instance with its validated settings (an instance of ``settings_type``).

    Required methods: ``models``, ``build_request``, ``parse_response``,
    ``stream_translator``. Optional methods, with the defaults defined here:
    ``map_error``, ``count_tokens``, ``serve_local``, (2.1, with
    ``native_dialects``) ``build_native_request`` and ``usage_tap``, (2.2)
    ``build_embeddings_request`` / ``parse_embeddings_response``, (2.4)
    ``build_models_request`` / ``parse_models_response``, (2.6)
    ``as_sent_translator``. The core calls every method
    directly; a later contract minor adds optional methods the same way (with a
    default here), so a plugin written for an older minor keeps working.

    Streams: translators emit the role chunk first, content / tool-call deltas
    (tool-call ``index`` dense from 0 per choice, fragments passed verbatim), one
    finish chunk per choice, and exactly one usage chunk (``choices=[]``) when the
    upstream reported usage. The core forwards the usage chunk only to clients that
    asked for it, and uses it for accounting either way. Every chunk and every
    completion follows the ``model`` rule (module docstring).
    """

    #: The contract version this plugin was written against. Set it explicitly: the
    #: inherited default always equals the running router's, so it checks nothing.
    contract_version: ClassVar[tuple[int, int]] = CONTRACT_VERSION
    #: msgspec Struct validating this provider's ``settings`` table in config.
    settings_type: ClassVar[type[msgspec.Struct] | None] = None
    #: msgspec Struct of request fields beyond the OpenAI API that this provider honours.
    extra_params: ClassVar[type[msgspec.Struct] | None] = None
    #: Client dialects this provider's upstream speaks itself (2.1), e.g.
    #: ``frozenset({"anthropic_messages"})``: requests of those are passed through.
    native_dialects: ClassVar[frozenset[str]] = frozenset()
    #: The genai-prices provider id of this plugin's models (2.5), e.g. "google": the
    #: core prices cards from that maintained list before the card's own prices.
    #: None: the plugin's entry name; "": no lookup (the card prices are complete).
    price_provider: ClassVar[str | None] = None
    #: The upstream takes images only inline (2.5): the core fetches ``https`` image
    #: URLs itself, under the operator's ``[guards.image_fetch]`` policy, and hands the
    #: plugin ``data:`` URLs instead (when the policy is off, the URL reaches the plugin).
    needs_inline_images: ClassVar[bool] = False

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    @abc.abstractmethod
    def models(self) -> list[ModelCard]:
        """The model cards this provider offers by default (config may override/add)."""

    @abc.abstractmethod
    def build_request(
        self,
        request: ChatRequest,
        deployment: Deployment,
        *,
        extras: msgspec.Struct | None = None,
    ) -> UpstreamRequest:
        """Translate a canonical request. Raise ``InvalidRequest`` naming the field
        for anything this provider cannot honour (never drop it silently)."""

    @abc.abstractmethod
    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """Translate a 2xx non-streaming body. Raise ``ModelError`` if it is garbage."""

    @abc.abstractmethod
    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh translator for one streamed response."""

    def as_sent_translator(
        self, request: ChatRequest, deployment: Deployment
    ) -> AsSentTranslator | None:
        """Optional (2.6): a fresh translator for one stream that also says which events
        it passed through unchanged (:class:`AsSentTranslator`), for upstreams whose
        events are OpenAI chat chunks already. None (the default): the core uses
        :meth:`stream_translator` and encodes every chunk it returns."""
        return None

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """The RouterError for a non-2xx upstream answer. Override to read the
        provider's error body; the default classifies by status alone."""
        return error_for_status(status, headers, upstream_message(body))

    def count_tokens(self, request: ChatRequest, deployment: Deployment) -> int | None:
        """Optional: the prompt's tokens by this provider's tokenizer (an int >= 0), or
        None to use the core's estimate (the default). The core calls it once per
        candidate deployment before admission, for the context-length check and the
        token-rate reservation; it runs on the event loop, so it must be fast and do
        no I/O. A negative answer is treated as None."""
        return None

    def build_native_request(
        self,
        dialect: str,
        endpoint: str,
        body: bytes,
        headers: Mapping[str, str],
        deployment: Deployment,
        *,
        stream: bool,
    ) -> UpstreamRequest:
        """Optional (2.1): the upstream request for a client's own ``body`` of a dialect
        in ``native_dialects``. ``endpoint`` names the dialect's endpoint (for
        ``anthropic_messages``: ``messages`` or ``count_tokens``); ``headers`` are the
        client's request headers that the dialect forwards, names in lower case
        (``anthropic-version``, ``anthropic-beta``), never its credentials. Replace
        the model with ``deployment.model`` and remove the router's own fields; keep
        everything else as sent. ``InvalidRequest`` means "not natively" (the
        default), and the core translates instead."""
        raise InvalidRequest(f"{type(self).__name__} serves no dialect natively")

    def usage_tap(self, dialect: str, deployment: Deployment) -> UsageTap:
        """Optional (2.1): a fresh :class:`UsageTap` for one natively relayed answer;
        required when ``native_dialects`` is not empty."""
        raise NotImplementedError(f"{type(self).__name__} serves no dialect natively")

    def build_embeddings_request(
        self, request: EmbeddingRequest, deployment: Deployment
    ) -> UpstreamRequest:
        """Optional (2.2): translate a canonical embeddings request (``POST /v1/embeddings``).
        The core calls it only for deployments whose card sets
        ``capabilities.embeddings``; the default refuses. Raise ``InvalidRequest`` for
        what this provider cannot embed (token ids where it takes text only ...). The
        2xx answer is read as one JSON document (``framing="json"``)."""
        raise InvalidRequest(f"The model {deployment.model!r} does not create embeddings")

    def parse_embeddings_response(
        self, request: EmbeddingRequest, deployment: Deployment, body: bytes
    ) -> EmbeddingResponse:
        """Optional (2.2, with ``build_embeddings_request``): translate a 2xx embeddings
        body. One ``Embedding`` per input in input order (``index`` 0, 1, ...), floats or
        already-base64 vectors (the core converts to what the client asked for), usage
        when the upstream reports it (zero otherwise: the core then estimates). Errors
        go through :meth:`map_error` as for chat."""
        raise ModelError(f"{type(self).__name__} cannot read embeddings")

    def build_models_request(self) -> UpstreamRequest:
        """Optional (2.4): the request that lists the upstream's models, for providers
        configured with ``discover`` (an OpenAI-compatible server: ``GET {base}/models``).
        The default refuses: such a provider cannot discover, and start-up says so."""
        raise InvalidRequest(f"{type(self).__name__} cannot list its upstream's models")

    def parse_models_response(self, body: bytes) -> list[str]:
        """Optional (2.4, with ``build_models_request``): the model ids in a 2xx answer,
        as the upstream names them (they become ``<provider>/<id>``). Raise ModelError
        for a body that is not a model list."""
        raise ModelError(f"{type(self).__name__} cannot read a model list")

    def serve_local(self, request: UpstreamRequest) -> LocalResponse:
        """Answer a ``local://`` request in-process (offline providers only)."""
        raise NotImplementedError(f"{type(self).__name__} has no in-process upstream")


# ---------------------------------------------------------------- helpers for plugins

_json_encoder = msgspec.json.Encoder()
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_any_decoder = msgspec.json.Decoder()


def json_encode(obj: Any) -> bytes:
    """Compact JSON with raw UTF-8 (msgspec)."""
    return _json_encoder.encode(obj)


def json_decode(data: bytes | str) -> Any:
    """Decode JSON into Python objects; raises ``ModelError`` on garbage."""
    try:
        return _any_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise ModelError("The model provider sent a malformed response", detail=str(exc)) from exc


def decode_chunk(data: bytes | str) -> ChatCompletionChunk:
    """Decode one canonical (OpenAI-shaped) chunk."""
    try:
        return _chunk_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError("The model provider sent a malformed chunk", detail=str(exc)) from exc


def decode_completion(data: bytes | str) -> ChatCompletion:
    """Decode one canonical (OpenAI-shaped) completion."""
    try:
        return _completion_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ModelError("The model provider sent a malformed response", detail=str(exc)) from exc


def split_events(raw: bytes, framing: Framing = "sse") -> list[UpstreamEvent]:
    """Deprecated since contract 2.0: use ``router_core.plugin_testing.split_events``."""
    import warnings

    warnings.warn(
        "plugin_api.split_events moved to router_core.plugin_testing.split_events",
        DeprecationWarning,
        stacklevel=2,
    )
    # The framing readers directly, not plugin_testing: the kit imports the contract,
    # so the contract importing the kit would be a cycle.
    decoder = make_decoder(framing, len(raw) + 1)
    return [*decoder.feed(raw), *decoder.close()]


def new_completion_id() -> str:
    """A fresh ``chatcmpl-…`` id."""
    return "chatcmpl-" + secrets.token_hex(12)


def new_tool_call_id() -> str:
    """A fresh ``call_…`` id for upstreams that give none."""
    return "call_" + secrets.token_hex(12)


def now() -> int:
    """Unix time in whole seconds, for ``created``."""
    return int(time.time())


#: Longest wait an upstream can ask for; anything larger (or not finite) is ignored.
MAX_RETRY_AFTER_S = 86_400.0


def _seconds(value: float) -> float | None:
    return min(max(0.0, value), MAX_RETRY_AFTER_S) if math.isfinite(value) else None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Parse ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date), bounded to
    a day; a value that is not a finite number is ignored."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return _seconds(float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        return _seconds(float(raw))
    except ValueError:
        pass
    try:
        return _seconds(parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def upstream_message(body: bytes, limit: int = 500) -> str:
    """Best-effort human text from an upstream error body (for logs and messages)."""
    try:
        doc = _any_decoder.decode(body)
    except msgspec.DecodeError:
        return body[:limit].decode("utf-8", "replace")
    if isinstance(doc, dict):
        err = doc.get("error", doc)
        if isinstance(err, dict):
            msg = err.get("message")
            if isinstance(msg, str):
                return msg[:limit]
        if isinstance(err, str):
            return err[:limit]
        msg = doc.get("message")
        if isinstance(msg, str):
            return msg[:limit]
    return body[:limit].decode("utf-8", "replace")


def error_for_status(status: int, headers: Mapping[str, str], message: str) -> RouterError:
    """Classify an upstream failure by HTTP status (the default ``map_error``)."""
    detail = f"upstream status {status}: {message}"
    if status == 429:
        return UpstreamRateLimited(detail=detail, retry_after=retry_after_seconds(headers))
    if status in (408, 504):
        return UpstreamTimeout(detail=detail)
    if status in (401, 403):
        return ModelError(
            "The model provider rejected the router's credentials; the operator must fix "
            "the provider configuration",
            detail=detail,
            retryable=False,
        )
    if status == 413:
        return InvalidRequest("The request is too large for the model provider", detail=detail)
    if 400 <= status < 500:
        return InvalidRequest(f"The model provider rejected the request: {message}", detail=detail)
    return ModelError(detail=detail, retry_after=retry_after_seconds(headers))


__all__ = [
    "API_VERSION",
    "CONTRACT_VERSION",
    "AsSentTranslator",
    "AudioPart",
    "CacheControl",
    "Capabilities",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentFilter",
    "ContentPart",
    "ContextLengthExceeded",
    "Delta",
    "Deployment",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "FilePart",
    "Framing",
    "FunctionCall",
    "FunctionDelta",
    "ImagePart",
    "InvalidRequest",
    "LocalResponse",
    "Message",
    "ModelCard",
    "ModelError",
    "NamedFunction",
    "PriceTier",
    "Pricing",
    "PromptTokensDetails",
    "ProviderPlugin",
    "ReasoningConfig",
    "ReasoningDetail",
    "RefusalPart",
    "ResponseMessage",
    "RouterError",
    "StreamTranslator",
    "TextPart",
    "ThinkingBlock",
    "TokenTemplate",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "UpstreamEvent",
    "UpstreamRateLimited",
    "UpstreamRequest",
    "UpstreamTimeout",
    "Usage",
    "UsageTap",
    "contract_compatible",
    "decode_chunk",
    "decode_completion",
    "error_for_status",
    "json_decode",
    "json_encode",
    "new_completion_id",
    "new_tool_call_id",
    "now",
    "retry_after_seconds",
    "upstream_message",
]
