"""POST /v1/chat/completions: orchestration only (auth, decode, route, guard,
limit, dispatch, respond, account). Protocol details live in plugins; I/O in the
dispatcher and the streaming module."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from aiohttp import web

from router_core.api.chat import ChatCompletion, ChatRequest, Usage
from router_core.api.decoding import decode_chat_request
from router_core.auth import Principal
from router_core.catalog import Route, Target
from router_core.dispatch import CallLog
from router_core.errors import InvalidModel, InvalidRequest, RouterError
from router_core.filters import FILTERS, NO_FILTERS
from router_core.guard_settings import MIDDLE_OUT, GuardSettings
from router_core.guards import (
    check_message_count,
    check_messages,
    check_shape,
    estimate_prompt_tokens,
    fitting_targets,
    output_budget,
    prompt_tokens_for,
)
from router_core.handlers.common import EXTRA_HEADERS, LOG_FIELDS, authenticate, json_response
from router_core.limits.base import Admission
from router_core.limits.headers import rate_limit_headers, refusal_headers
from router_core.state import STATE, RouterState
from router_core.store.base import UsageEvent
from router_core.streaming import StreamOutcome, relay
from router_core.transforms import middle_out

_decoder = msgspec.json.Decoder(ChatRequest)


def decode_request(body: bytes) -> ChatRequest:
    """The typed request, or 400 invalid_request naming the field path."""
    return decode_chat_request(_decoder, body)


def resolve_targets(
    state: RouterState, principal: Principal, req: ChatRequest
) -> tuple[Route, list[Target]]:
    """The primary route and the ordered targets (route deployments, then the
    client's ``models`` fallbacks), limited to what the key may use."""
    names = [req.model]
    for extra in req.models or ():
        if extra not in names:
            names.append(extra)
    primary: Route | None = None
    targets: list[Target] = []
    seen: set[str] = set()
    for name in names:
        route = state.catalog.resolve(name)
        if route is None or not principal.models.allows(route.name):
            if name == req.model:
                raise InvalidModel(
                    f"The model {name!r} does not exist or is not available to this key"
                )
            raise InvalidModel(
                f"The fallback model {name!r} does not exist or is not available to this key"
            )
        primary = primary or route
        for t in route.targets:
            if t.deployment.id not in seen:
                seen.add(t.deployment.id)
                targets.append(t)
    assert primary is not None
    return primary, targets


async def read_body(request: web.Request, limit_s: float) -> bytes:
    """The whole request body, or 408 invalid_request when the client sends it too
    slowly (the size cap is aiohttp's client_max_size: 413 invalid_request)."""
    if request.content.is_eof():
        return await request.read()  # the whole body already arrived with the headers
    try:
        async with asyncio.timeout(limit_s if limit_s > 0 else None):
            return await request.read()
    except TimeoutError as exc:
        raise InvalidRequest(
            f"The request body did not arrive within {limit_s:g} seconds", status=408
        ) from exc


def guard_context(
    req: ChatRequest, targets: list[Target], guards: GuardSettings, fields: dict[str, Any]
) -> tuple[ChatRequest, list[Target], int]:
    """Apply opt-in middle-out, then keep the targets whose context holds the request.
    Returns the request to send, its targets and its prompt-token estimate."""
    estimate = estimate_prompt_tokens(req)
    if req.transforms and MIDDLE_OUT in req.transforms:
        first = targets[0]
        counted = prompt_tokens_for(req, first, estimate)
        window = first.deployment.card.context_length
        if window > 0:
            trimmed = middle_out(
                req,
                max_tokens=window - (req.output_limit or 0),
                max_messages=guards.max_messages,
                scale=counted / estimate if estimate and counted > estimate else 1.0,
            )
            if trimmed.removed:
                fields["middle_out_removed"] = trimmed.removed
                req = trimmed.request
                estimate = estimate_prompt_tokens(req)
    if not guards.check_context:
        return req, targets, prompt_tokens_for(req, targets[0], estimate)
    kept, tokens = fitting_targets(req, targets, estimate)
    return req, kept, tokens


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    guards = state.settings.guards
    t_start = time.monotonic()
    fields: dict[str, Any] = request[LOG_FIELDS]
    extra_headers: dict[str, str] = request[EXTRA_HEADERS]
    principal = await authenticate(request)
    # Counted in requests_total from here on, refusals at decode too; the label stays
    # model="" until a deployment is chosen (metrics.py), whatever the client typed.
    fields["model"] = ""
    body = await read_body(request, state.settings.server.client_read_timeout_s)
    req = decode_request(body)
    fields["model"] = req.model
    fields["stream"] = req.stream
    check_shape(req, guards)
    check_messages(req)
    route, targets = resolve_targets(state, principal, req)
    card = route.card
    req, targets, prompt_estimate = guard_context(req, targets, guards, fields)
    check_message_count(req, guards)
    content_filters = request.app.get(FILTERS, NO_FILTERS)
    content_filters.check_input(req)
    reserve = prompt_estimate + output_budget(req, targets[0].deployment.card)

    try:
        admission: Admission = await state.limiter.acquire(
            principal.key.id, principal.account.id, principal.limits, reserve
        )
    except RouterError as refused:
        extra_headers.update(refusal_headers(principal.limits, refused.retry_after, time.time()))
        raise
    extra_headers.update(rate_limit_headers(admission, time.time()))
    m = state.metrics
    call = CallLog()
    served: Target | None = None  # priced and billed as the deployment that answered
    usage: Usage | None = None
    provider = targets[0].deployment.provider
    served_model = req.model
    outcome: StreamOutcome | None = None
    m.in_flight.inc()
    try:
        if not req.stream:
            target, completion = await state.dispatcher.complete(targets, req, body, call)
            served = target
            provider = target.deployment.provider
            usage = completion.usage if isinstance(completion.usage, Usage) else None
            served_model = completion.model
            content_filters.check_completion(completion)
            _served_headers(extra_headers, target, call, t_start)
            fields["attempts"] = call.summary()
            return json_response(completion, headers=extra_headers)

        opened = await state.dispatcher.open_stream(
            targets, req, body, call, commit_delay=state.settings.server.sse_keepalive_s or 15.0
        )
        target = served = opened.target
        provider = target.deployment.provider
        _served_headers(extra_headers, target, call, t_start)
        fields["attempts"] = call.summary()
        m.open_streams.inc()
        outcome = StreamOutcome()
        try:
            return await relay(
                request,
                opened,
                headers=extra_headers,
                include_usage=req.include_usage,
                keepalive=state.settings.server.sse_keepalive_s,
                out=outcome,
                scanner=content_filters.scanner(),
            )
        finally:
            m.open_streams.dec()
    except RouterError:
        fields["attempts"] = call.summary()
        raise
    finally:
        m.in_flight.dec()
        if outcome is not None:
            usage = _stream_usage(
                state, fields, outcome, req.model, provider, prompt_estimate, t_start
            )
        used = usage.total_tokens if usage else 0
        pricing = (served.deployment.card if served is not None else card).pricing
        cost = pricing.cost(usage.prompt_tokens, usage.completion_tokens) if usage else 0.0
        await state.limiter.settle(admission, principal.limits, used, cost)
        if usage is not None:
            billed = served.route or route.name if served is not None else route.name
            _account(state, principal, billed, provider, usage, cost)
            fields["prompt_tokens"] = usage.prompt_tokens
            fields["completion_tokens"] = usage.completion_tokens
        fields["provider"] = provider
        fields["served_model"] = served_model
        m.request_duration_c.get(req.model, provider, "true" if req.stream else "false").observe(
            time.monotonic() - t_start
        )
        overhead = max(0.0, time.monotonic() - t_start - call.upstream_wait)
        m.overhead_c.get("true" if req.stream else "false").observe(overhead)


def _stream_usage(
    state: RouterState,
    fields: dict[str, Any],
    outcome: StreamOutcome,
    model: str,
    provider: str,
    prompt_estimate: int,
    t_start: float,
) -> Usage:
    """Usage of a finished or abandoned stream (estimated when no usage chunk came)."""
    m = state.metrics
    if outcome.first_chunk_at is not None:
        m.ttft_c.get(model, provider).observe(outcome.first_chunk_at - t_start)
    if outcome.error is not None:
        fields["stream_error"] = outcome.error.code
        fields["error_detail"] = outcome.error.detail
    if outcome.disconnected:
        m.client_disconnects.inc()
        fields["client_disconnected"] = True
    if outcome.usage is not None:
        return outcome.usage
    # interrupted stream: bill what was streamed (estimate), nothing more
    completion = outcome.completion_chars // 4
    return Usage(
        prompt_tokens=prompt_estimate,
        completion_tokens=completion,
        total_tokens=prompt_estimate + completion,
    )


def _served_headers(headers: dict[str, str], target: Target, call: CallLog, t_start: float) -> None:
    headers["X-VibeRouter-Provider"] = target.deployment.provider
    headers["X-VibeRouter-Deployment"] = target.deployment.id
    overhead = max(0.0, time.monotonic() - t_start - call.upstream_wait)
    headers["x-viberouter-overhead-ms"] = f"{overhead * 1000:.3f}"


def _account(
    state: RouterState, principal: Principal, model: str, provider: str, usage: Usage, cost: float
) -> None:
    m = state.metrics
    m.tokens_c.get(model, "prompt").inc(usage.prompt_tokens)
    m.tokens_c.get(model, "completion").inc(usage.completion_tokens)
    if cost:
        m.cost_c.get(model).inc(cost)
    m.tenants.observe(
        principal.account.id, principal.key.id, usage.prompt_tokens, usage.completion_tokens, cost
    )
    state.ledger.record(
        UsageEvent(
            ts=time.time(),
            account_id=principal.account.id,
            key_id=principal.key.id,
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost_usd=cost,
        )
    )


__all__ = ["ChatCompletion", "chat_completions", "decode_request", "guard_context", "read_body"]
