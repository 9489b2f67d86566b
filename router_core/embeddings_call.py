"""POST /v1/embeddings through the one pipeline's steps: the same key, model
permissions, routing with fallbacks, limits, accounting and error shape as chat;
its own call type, guard (every input must fit the model's window) and exchange.

Only deployments whose card sets ``capabilities.embeddings`` are tried. Admission
reserves the inputs' estimated tokens; billing uses the usage the upstream reports
(the estimate when it reports none) at the deployment's prompt price, which for an
embedding model is its embedding price.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import msgspec
from aiohttp import web

from router_core import pipeline
from router_core.accounting import Tally, settle
from router_core.api.chat import ChatRequest, Message, Usage
from router_core.api.decoding import decode_json
from router_core.api.embeddings import (
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
    from_base64,
    to_base64,
)
from router_core.attempts import AttemptScope
from router_core.catalog import Target
from router_core.dialects.base import DIALECT
from router_core.dialects.openai_chat import OPENAI_CHAT
from router_core.errors import ContextLengthExceeded, InvalidModel, InvalidRequest, ModelError
from router_core.exchange import read_answer
from router_core.guards import estimate_text_tokens
from router_core.request_context import EXTRA_HEADERS, LOG_FIELDS
from router_core.state import STATE, RouterState
from router_core.timeouts import WatchedResponse
from router_core.upstream import UpstreamClient

#: The ``endpoint`` of this call in logs and metrics.
ENDPOINT = "embeddings"
_decoder = msgspec.json.Decoder(EmbeddingRequest)
_encode = msgspec.json.Encoder().encode


def decode(body: bytes) -> tuple[EmbeddingRequest, list[str] | list[list[int]]]:
    """The typed request and its inputs, or 400 naming the problem."""
    req = decode_json(_decoder, body)
    try:
        return req, req.inputs()
    except ValueError as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from exc


def input_tokens(inputs: list[str] | list[list[int]]) -> list[int]:
    """Each input's tokens: token arrays count exactly, texts by the guards' estimate."""
    return [
        len(item) if isinstance(item, list) else int(estimate_text_tokens(item) + 0.999)
        for item in inputs
    ]


def embedding_targets(model: str, targets: list[Target], longest: int) -> list[Target]:
    """The targets that embed and whose window holds the longest input."""
    embedders = [t for t in targets if t.deployment.card.capabilities.embeddings]
    if not embedders:
        raise InvalidModel(f"The model {model!r} does not create embeddings")
    fitting = [t for t in embedders if longest <= t.deployment.card.context_length]
    if not fitting:
        window = max(t.deployment.card.context_length for t in embedders)
        raise ContextLengthExceeded(
            f"An input has about {longest} tokens; this model embeds at most {window} per input"
        )
    return fitting


async def exchange(
    upstream: UpstreamClient, scope: AttemptScope, request: EmbeddingRequest
) -> EmbeddingResponse:
    """The whole JSON answer (:func:`exchange.read_answer`), parsed by the plugin."""
    body, _ = await read_answer(upstream, scope)
    target = scope.target
    result = target.plugin.parse_embeddings_response(request, target.deployment, body)
    scope.health.first_token(scope)
    return result


def shaped(result: EmbeddingResponse, req: EmbeddingRequest, count: int, tokens: int) -> bytes:
    """The answer in the encoding the client asked for (float unless ``base64``), one
    vector per input, usage filled with the estimate when the upstream gave none."""
    if len(result.data) != count:
        raise ModelError(
            "The model provider answered a different number of embeddings",
            detail=f"{len(result.data)} vectors for {count} inputs",
        )
    want_base64 = req.encoding_format == "base64"
    for i, item in enumerate(result.data):
        item.index = i
        vector = item.embedding
        if want_base64 and isinstance(vector, list):
            item.embedding = to_base64(vector)
        elif not want_base64 and isinstance(vector, str):
            try:
                item.embedding = from_base64(vector)
            except (ValueError, struct.error) as exc:
                raise ModelError("The model provider sent a malformed vector") from exc
    if not result.usage.prompt_tokens:
        result.usage = EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)
    return _encode(result)


async def create_embeddings(request: web.Request) -> web.StreamResponse:
    """POST /v1/embeddings (module docstring)."""
    state = request.app[STATE]
    t_start = time.monotonic()
    fields: dict[str, Any] = request[LOG_FIELDS]
    extra_headers: dict[str, str] = request[EXTRA_HEADERS]
    # Errors as on chat: the server's error_format, then the key's own if it chose one.
    dialect = request[DIALECT] = OPENAI_CHAT.with_error_format(state.settings.server.error_format)
    principal = await pipeline.authenticate(request, state, dialect, fields)
    request[DIALECT] = dialect.with_error_format(principal.key.error_format)
    fields["model"], fields["endpoint"] = "", ENDPOINT  # counted from here, as on chat
    body = await pipeline.read_body(request, state.settings.server.client_read_timeout_s)
    req, inputs = decode(body)
    fields["model"], fields["stream"] = req.model, False
    names = tuple(dict.fromkeys([req.model, *(req.models or ())]))
    route, targets = pipeline.resolve_targets(state, principal, names)
    per_input = input_tokens(inputs)
    targets = embedding_targets(req.model, targets, max(per_input))
    texts = [Message(role="user", content=t) for t in inputs if isinstance(t, str)]
    if texts:
        state.filters.check_input(ChatRequest(model=req.model, messages=texts))
    estimate = sum(per_input)
    admission = await pipeline.admit(state, principal, OPENAI_CHAT, estimate, extra_headers)
    tally = Tally(
        model=req.model,
        stream=False,
        route=route.name,
        pricing=route.card.pricing,
        provider=targets[0].deployment.provider,
        prompt_estimate=estimate,
        t_start=t_start,
    )
    state.metrics.in_flight_c.inc()
    try:
        return await _respond(request, state, req, targets, tally, len(inputs))
    finally:
        fields["attempts"] = tally.call.summary()
        state.metrics.in_flight_c.dec()
        await settle(state, principal, admission, tally, fields)


async def _respond(
    request: web.Request,
    state: RouterState,
    req: EmbeddingRequest,
    targets: list[Target],
    tally: Tally,
    count: int,
) -> web.StreamResponse:
    upstream = state.upstream

    async def run(scope: AttemptScope) -> EmbeddingResponse:
        return await exchange(upstream, scope, req)

    def build(target: Target) -> Any:
        return target.plugin.build_embeddings_request(req, target.deployment)

    target, result = await state.dispatcher.run(targets, req.model, tally.call, build, run)
    tally.serve(target)
    tally.served_model = result.model
    body = shaped(result, req, count, tally.prompt_estimate)
    tokens = result.usage.prompt_tokens
    tally.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
    headers: dict[str, str] = request[EXTRA_HEADERS]
    pipeline.served_headers(headers, target, tally)
    # written by aiohttp once this request is settled, under the client write timeout
    return WatchedResponse(
        state.client_writes, body=body, content_type="application/json", headers=headers
    )


__all__ = [
    "ENDPOINT",
    "create_embeddings",
    "decode",
    "embedding_targets",
    "exchange",
    "input_tokens",
    "shaped",
]
