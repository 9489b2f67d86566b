"""The Anthropic Messages API: ``POST /v1/messages`` runs the one pipeline with the
``anthropic_messages`` dialect; ``POST /v1/messages/count_tokens`` counts a request's
input tokens: Anthropic's own count where the model's route has a deployment that
speaks the Messages API natively, the router's estimate (system, tools and messages)
otherwise. Counting is authenticated and bound to the key's models, not rate limited
or billed: it generates nothing."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web

from router_core import native_call, pipeline
from router_core.attempts import AttemptScope, CallLog
from router_core.catalog import Target
from router_core.dialects.anthropic_messages.decode import decode_messages
from router_core.dialects.anthropic_messages.dialect import (
    ANTHROPIC_MESSAGES,
    AnthropicMessages,
    translate,
)
from router_core.dialects.anthropic_messages.wire import CountTokensOut
from router_core.dialects.base import DIALECT, ChatCall
from router_core.errors import InvalidRequest
from router_core.guards import estimate_prompt_tokens, prompt_tokens_for
from router_core.plugin_api import UpstreamRequest
from router_core.request_context import EXTRA_HEADERS, LOG_FIELDS, json_response
from router_core.state import STATE, RouterState

#: The ``endpoint`` label and log field of count_tokens requests.
COUNT_TOKENS = "anthropic_count_tokens"


class _Counting(AnthropicMessages):
    """The same dialect, asking native upstreams for their ``count_tokens`` endpoint."""

    native_endpoint = "count_tokens"


COUNTING = _Counting()


#: POST /v1/messages (JSON or SSE): the pipeline itself (see handlers/chat.py).
create_message = partial(pipeline.run, dialect=ANTHROPIC_MESSAGES)


async def count_tokens(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages/count_tokens: ``{"input_tokens": N}``."""
    state = request.app[STATE]
    fields: dict[str, Any] = request[LOG_FIELDS]
    headers: dict[str, str] = request[EXTRA_HEADERS]
    request[DIALECT] = ANTHROPIC_MESSAGES
    fields["endpoint"] = COUNT_TOKENS
    headers.update(ANTHROPIC_MESSAGES.response_headers(headers))
    principal = await pipeline.authenticate(request, state, ANTHROPIC_MESSAGES, fields)
    fields["model"] = ""
    body = await pipeline.read_body(request, state.settings.server.client_read_timeout_s)
    native = decode_messages(body, count_tokens=True)
    _, targets = pipeline.resolve_targets(state, principal, (native.model,))
    fields["model"] = native.model
    translated, _ = translate(native)
    native_targets = [t for t in targets if COUNTING.name in t.plugin.native_dialects]
    if native_targets:
        call = ChatCall(translated.request, body, (native.model,), stream=False)
        target, answer = await _ask_upstream(request, state, call, native_targets, fields)
        fields["provider"] = target.deployment.provider
        return web.Response(body=answer.body, content_type="application/json", headers=headers)
    fields["provider"] = targets[0].deployment.provider
    estimate = estimate_prompt_tokens(translated.request)
    tokens = prompt_tokens_for(translated.request, targets[0], estimate)
    return json_response(CountTokensOut(input_tokens=tokens), headers=headers)


async def _ask_upstream(
    request: web.Request,
    state: RouterState,
    call: ChatCall,
    targets: list[Target],
    fields: dict[str, Any],
) -> tuple[Target, native_call.NativeAnswer]:
    """The upstream's own count, with the attempt loop's retries and fallbacks."""

    def no_translation(target: Target) -> UpstreamRequest:
        raise InvalidRequest("count_tokens is only asked of native deployments")

    builder = native_call.NativeBuilder(COUNTING, call, request.headers, no_translation)
    upstream = state.upstream

    async def exchange(scope: AttemptScope) -> native_call.NativeAnswer:
        return await native_call.json_exchange(upstream, scope, None)

    calls = CallLog()
    try:
        return await state.dispatcher.run(targets, call.model, calls, builder, exchange)
    finally:
        fields["attempts"] = calls.summary()


def add_routes(app: web.Application) -> None:
    """The Anthropic Messages API endpoints."""
    app.router.add_post("/v1/messages", create_message)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)


__all__ = ["COUNT_TOKENS", "add_routes", "count_tokens", "create_message"]
