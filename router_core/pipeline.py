"""THE request pipeline every endpoint runs: authenticate, decode, route, guard,
admit, dispatch, respond, account. An endpoint is a dialect
(``router_core/dialects/base.py``): it supplies the credential forms, decode and
the encoders; everything here is shared. A handler is the pipeline with its dialect::

    chat_completions = functools.partial(pipeline.run, dialect=OPENAI_CHAT)

Each step is a function below, in request order; errors are RouterErrors that the
request boundary renders in the dialect's error shape (``DIALECT`` on the request).
Accounting runs exactly once, in ``run``'s ``finally``, whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from router_core import native_call
from router_core.accounting import StreamOutcome, Tally, settle
from router_core.api.chat import ChatCompletion, ChatRequest, Usage
from router_core.auth import Principal
from router_core.catalog import Route, Target
from router_core.dialects.base import DIALECT, ChatCall, Dialect
from router_core.dispatch import OpenStream
from router_core.errors import InvalidModel, InvalidRequest, RouterError
from router_core.filters import FilterChain
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
from router_core.limits.base import Admission
from router_core.limits.headers import rate_limit_headers, refusal_headers
from router_core.limits.reserve import fit_reservation
from router_core.request_context import EXTRA_HEADERS, LOG_FIELDS
from router_core.state import STATE, RouterState
from router_core.streaming import relay
from router_core.timeouts import WatchedResponse
from router_core.transforms import middle_out


@dataclass(slots=True)
class Plan:
    """Where and how a call goes, once routed and guarded."""

    route: Route
    targets: list[Target]
    request: ChatRequest  # after opt-in transforms (middle-out)
    prompt_estimate: int
    reserve: int  # tokens held by admission: prompt estimate + output budget


class CallHooks(Protocol):
    """An endpoint's own steps around the shared ones (``/v1/responses`` reads and
    writes stored conversations with them)."""

    async def before_route(self, call: ChatCall, principal: Principal) -> None:
        """After decode, before routing: may complete ``call`` (RouterError to refuse)."""
        ...

    async def after_answer(self, call: ChatCall, principal: Principal) -> None:
        """Once the answer is sent (or failed), before accounting."""
        ...


async def run(
    request: web.Request, dialect: Dialect, hooks: CallHooks | None = None
) -> web.StreamResponse:
    """Serve one request of ``dialect`` (see the module docstring)."""
    state = request.app[STATE]
    t_start = time.monotonic()
    fields: dict[str, Any] = request[LOG_FIELDS]
    extra_headers: dict[str, str] = request[EXTRA_HEADERS]
    # the server's error shape (dialects with one fixed shape ignore it), then the key's
    dialect = dialect.with_error_format(state.settings.server.error_format)
    request[DIALECT] = dialect
    extra_headers.update(dialect.response_headers(extra_headers))
    principal = await authenticate(request, state, dialect, fields)
    if principal.key.error_format is not None:  # the key's own error shape from here on
        dialect = request[DIALECT] = dialect.with_error_format(principal.key.error_format)
    # Counted in requests_total from here on, refusals at decode too; the label stays
    # model="" until a deployment is chosen (metrics.py), whatever the client typed.
    fields["model"] = ""
    fields["endpoint"] = dialect.name
    body = await read_body(request, state.settings.server.client_read_timeout_s)
    call = dialect.decode(body)
    if hooks is not None:
        await hooks.before_route(call, principal)
    fields["model"] = call.model
    fields["stream"] = call.stream
    filters = state.filters
    plan = plan_call(state, principal, call, filters, fields)
    call.prompt_estimate = plan.prompt_estimate
    if call.untranslatable is not None and not native_call.may_serve_natively(
        dialect, plan.targets
    ):
        raise call.untranslatable
    admission = await admit(state, principal, dialect, plan.reserve, extra_headers)
    tally = Tally(
        model=call.model,
        stream=call.stream,
        route=plan.route.name,
        pricing=plan.route.card.pricing,
        provider=plan.targets[0].deployment.provider,
        prompt_estimate=plan.prompt_estimate,
        t_start=t_start,
    )
    m = state.metrics
    m.in_flight_c.inc()
    try:
        if needs_inline_images(plan.targets):
            await inline_images(state, plan)
        if call.stream:
            relay_stream = await open_stream(request, state, dialect, call, plan, tally, filters)
            return await relay_stream
        return await respond_json(request, state, dialect, call, plan, tally, filters)
    finally:
        fields["attempts"] = tally.call.summary()
        m.in_flight_c.dec()
        try:
            if hooks is not None:
                await hooks.after_answer(call, principal)
        finally:
            await settle(state, principal, admission, tally, fields)


async def authenticate(
    request: web.Request, state: RouterState, dialect: Dialect, fields: dict[str, Any]
) -> Principal:
    """The caller's Principal from the dialect's credential forms (401 otherwise)."""
    principal = await state.auth.authenticate(dialect.credential(request.headers))
    fields["key_id"] = principal.key.id
    fields["account_id"] = principal.account.id
    return principal


async def read_body(request: web.Request, limit_s: float) -> bytes:
    """The whole request body, or 408 invalid_request when the client sends it too
    slowly (the size cap is aiohttp's client_max_size: 413 invalid_request)."""
    content = request.content
    if content.is_eof():
        # The whole body came with the headers: taken from the buffer in one call, not
        # read() (two reads, a bytearray and a copy); the size cap checked as read() does.
        body = content.read_nowait()
        if request.client_max_size and len(body) > request.client_max_size:
            raise web.HTTPRequestEntityTooLarge(
                max_size=request.client_max_size, actual_size=len(body)
            )
        request._read_bytes = body  # a later read() returns it, as after read()
        return body
    try:
        async with asyncio.timeout(limit_s if limit_s > 0 else None):
            return await request.read()
    except TimeoutError as exc:
        raise InvalidRequest(
            f"The request body did not arrive within {limit_s:g} seconds", status=408
        ) from exc


def plan_call(
    state: RouterState,
    principal: Principal,
    call: ChatCall,
    filters: FilterChain,
    fields: dict[str, Any],
) -> Plan:
    """Route and guard: shape rules, the key's models, context length, input filters."""
    guards = state.settings.guards
    req = call.request
    check_shape(req, guards)
    check_messages(req)
    route, targets = resolve_targets(state, principal, call.models)
    req, targets, estimate = guard_context(req, targets, guards, fields)
    check_message_count(req, guards)
    filters.check_input(req)
    wanted = estimate + output_budget(req, targets[0].deployment.card)
    reserve = fit_reservation(principal.limits.tpm, estimate, req.output_limit, wanted)
    return Plan(route, targets, req, estimate, reserve)


def resolve_targets(
    state: RouterState, principal: Principal, names: tuple[str, ...]
) -> tuple[Route, list[Target]]:
    """The primary route and the ordered targets (route deployments, then the
    client's fallbacks), limited to what the key may use."""
    primary: Route | None = None
    targets: list[Target] = []
    seen: set[str] = set()
    for name in names:
        route = state.catalog.resolve(name)
        if route is None or not principal.models.allows(route.name):
            which = "model" if name == names[0] else "fallback model"
            raise InvalidModel(
                f"The {which} {name!r} does not exist or is not available to this key"
            )
        primary = primary or route
        for t in route.targets:
            if t.deployment.id not in seen:
                seen.add(t.deployment.id)
                targets.append(t)
    assert primary is not None
    return primary, targets


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


async def admit(
    state: RouterState,
    principal: Principal,
    dialect: Dialect,
    reserve: int,
    extra_headers: dict[str, str],
) -> Admission:
    """Acquire the key's limits for ``reserve`` tokens; rate-limit headers either way
    (the router's own, and the dialect's)."""
    limits = principal.limits
    try:
        admission = await state.limiter.acquire(
            principal.key.id, principal.account.id, limits, reserve
        )
    except RouterError as refused:
        now = time.time()
        extra_headers.update(refusal_headers(limits, refused.retry_after, now))
        extra_headers.update(dialect.refused_headers(limits, refused.retry_after, now))
        raise
    now = time.time()
    extra_headers.update(rate_limit_headers(admission, now))
    extra_headers.update(dialect.admitted_headers(admission, now))
    return admission


def needs_inline_images(targets: list[Target]) -> bool:
    """Whether a target's provider takes images only inline (a loop, not ``any()``
    over a generator: this runs on every request)."""
    for t in targets:  # noqa: SIM110
        if type(t.plugin).needs_inline_images:
            return True
    return False


async def inline_images(state: RouterState, plan: Plan) -> None:
    """Remote image URLs fetched and inlined (image_fetch.py) when a target's provider
    takes images only inline (:func:`needs_inline_images`); after admission, so a
    refused key fetches nothing."""
    policy = state.settings.guards.image_fetch
    plan.request = await state.images.inline(plan.request, policy)


async def respond_json(
    request: web.Request,
    state: RouterState,
    dialect: Dialect,
    call: ChatCall,
    plan: Plan,
    tally: Tally,
    filters: FilterChain,
) -> web.StreamResponse:
    """Dispatch a non-streamed call and write its answer."""
    answer: ChatCompletion | native_call.NativeAnswer
    if native_call.may_serve_natively(dialect, plan.targets):
        target, answer = await native_call.complete(
            state, dialect, call, plan.targets, plan.request, request.headers, tally.call
        )
    else:
        target, answer = await state.dispatcher.complete(
            plan.targets, plan.request, call.extras_source, tally.call
        )
    tally.serve(target)
    headers: dict[str, str] = request[EXTRA_HEADERS]
    if isinstance(answer, native_call.NativeAnswer):
        # The upstream's own body, unchanged; the tap read its usage.
        call.native_tap, call.native_provider = answer.tap, target.deployment.provider
        tally.usage = answer.tap.usage() if answer.tap is not None else None
        if filters.enabled:  # output filters read the plugin's own translation of it
            dep = target.deployment
            filters.check_completion(target.plugin.parse_response(plan.request, dep, answer.body))
        body, content_type = answer.body, answer.content_type.partition(";")[0]
    else:
        tally.usage = answer.usage if isinstance(answer.usage, Usage) else None
        tally.served_model = answer.model
        filters.check_completion(answer)
        body, content_type = dialect.encode_response(answer, call), dialect.content_type
    served_headers(headers, target, tally)
    # written by aiohttp once this request is settled, under the client write timeout
    return WatchedResponse(
        state.client_writes, body=body, content_type=content_type, headers=headers
    )


async def open_stream(
    request: web.Request,
    state: RouterState,
    dialect: Dialect,
    call: ChatCall,
    plan: Plan,
    tally: Tally,
    filters: FilterChain,
) -> Coroutine[Any, Any, web.StreamResponse]:
    """Open the upstream stream (failing over until commit) and return the relay that
    serves it, which the caller awaits at once: the relay runs in the caller's chain
    without this function's frame around it, which an open stream would keep until
    it ends. The relay's end undoes the stream's bookkeeping (``ended``)."""
    server = state.settings.server
    target, opened = await _open_upstream(request, state, dialect, call, plan, tally)
    tally.serve(target)
    headers: dict[str, str] = request[EXTRA_HEADERS]
    served_headers(headers, target, tally)
    tally.stream_out = StreamOutcome()
    m = state.metrics
    m.open_streams_c.inc()
    token = state.client_writes.watch(request)

    def ended() -> None:
        state.client_writes.unwatch(token)
        m.open_streams_c.dec()

    try:
        if isinstance(opened, native_call.NativeStream):
            call.native_tap, call.native_provider = opened.tap, target.deployment.provider
            return native_call.relay(
                request,
                opened,
                headers=headers,
                keepalive=server.sse_keepalive_s,
                sweep=state.keepalives,
                out=tally.stream_out,
                error_frames=dialect.stream_encoder(call).error,
                scan=native_scan(opened, filters, plan.request, state),
                on_end=ended,
            )
        return relay(
            request,
            opened,
            encoder=dialect.stream_encoder(call),
            headers=headers,
            keepalive=server.sse_keepalive_s,
            sweep=state.keepalives,
            out=tally.stream_out,
            scanner=filters.scanner(),
            on_end=ended,
        )
    except BaseException:
        opened.close()
        ended()
        raise


async def _open_upstream(
    request: web.Request,
    state: RouterState,
    dialect: Dialect,
    call: ChatCall,
    plan: Plan,
    tally: Tally,
) -> tuple[Target, OpenStream | native_call.NativeStream]:
    """The upstream stream, native when the dialect and the target allow, failing
    over until it is committed."""
    if native_call.may_serve_natively(dialect, plan.targets):
        return await native_call.open_stream(
            state, dialect, call, plan.targets, plan.request, request.headers, tally.call
        )
    opened = await state.dispatcher.open_stream(
        plan.targets,
        plan.request,
        call.extras_source,
        tally.call,
        commit_delay=state.settings.server.sse_keepalive_s or 15.0,
    )
    return opened.target, opened


def native_scan(
    opened: native_call.NativeStream, filters: FilterChain, request: ChatRequest, state: RouterState
) -> native_call.OutputScan | None:
    """Output filtering of a native stream, when filters are configured."""
    scanner = filters.scanner()
    if scanner is None:
        return None
    return native_call.OutputScan(opened, scanner, request, state.settings.upstream.max_event_bytes)


def served_headers(headers: dict[str, str], target: Target, tally: Tally) -> None:
    """Which deployment answered, and the router's own time so far."""
    headers["X-VibeRouter-Provider"] = target.deployment.provider
    headers["X-VibeRouter-Deployment"] = target.deployment.id
    headers["x-viberouter-overhead-ms"] = f"{tally.overhead * 1000:.3f}"
