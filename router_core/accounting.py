"""A request's account, settled once when it ends: price, limits, ledger, metrics.

The pipeline fills a :class:`Tally` as the request runs (the deployment that
answered, its usage or the stream's outcome) and calls :func:`settle` exactly once,
from a ``finally``, whatever happened: an answer, an error, a client that left.
Usage the upstream did not report (an interrupted stream) is estimated with the
guards' token estimator, the same one admission used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from router_core.api.chat import ChatCompletionChunk, Usage
from router_core.api.models import Pricing
from router_core.auth import Principal
from router_core.catalog import Target
from router_core.dispatch import CallLog
from router_core.errors import RouterError
from router_core.guards import estimate_text_tokens
from router_core.limits.base import Admission
from router_core.pricing import cost_usd
from router_core.state import RouterState
from router_core.store.base import UsageEvent

#: Content strings a stream keeps before folding them into its estimate: a long stream
#: would otherwise keep every delta (about 60 bytes each) until it ends.
_FOLD_AT = 64


@dataclass(slots=True)
class StreamOutcome:
    """What a stream delivered, filled chunk by chunk (read by accounting even when
    the client went away half-way)."""

    usage: Usage | None = None
    chunks: int = 0
    first_chunk_at: float | None = None
    error: RouterError | None = None
    disconnected: bool = False
    finish_reasons: list[str] = field(default_factory=list)
    #: Frames before the chunk an output filter refused (sent before the error event).
    blocked_frames: bytes = b""
    #: Content sent and not yet folded into ``estimated``, for the estimate when the
    #: upstream reports no usage.
    texts: list[str] = field(default_factory=list)
    #: Tokens of the content folded so far (the estimator adds up over any split).
    estimated: float = 0.0

    def observe(self, chunk: ChatCompletionChunk) -> None:
        """Count one content chunk that goes to the client."""
        for choice in chunk.choices:
            content = choice.delta.content
            if isinstance(content, str) and content:
                self.texts.append(content)
                if len(self.texts) >= _FOLD_AT:
                    self._fold()
            if choice.finish_reason is not None:
                self.finish_reasons.append(choice.finish_reason)
        self.chunks += 1

    def observe_texts(self, texts: list[str]) -> None:
        """Count content chunks of one choice that go to the client, by their texts
        (a ``stream_iter.TokenRun``'s: none of them finishes)."""
        self.texts += texts
        if len(self.texts) >= _FOLD_AT:
            self._fold()
        self.chunks += len(texts)

    def _fold(self) -> None:
        """The texts waiting, counted into ``estimated`` (the estimator adds up)."""
        self.estimated += estimate_text_tokens("".join(self.texts))
        self.texts.clear()

    def completion_estimate(self) -> int:
        """Tokens of the content sent, by the guards' estimator."""
        return int(self.estimated + estimate_text_tokens("".join(self.texts)) + 0.999)


@dataclass(slots=True)
class Tally:
    """What one request used and who served it; settled once by :func:`settle`."""

    model: str  # the name the client asked for
    stream: bool
    route: str  # the primary route (billed when no deployment answered)
    pricing: Pricing  # the primary route's pricing, until a deployment answers
    provider: str
    prompt_estimate: int
    t_start: float
    call: CallLog = field(default_factory=CallLog)
    served: Target | None = None
    served_model: str = ""
    usage: Usage | None = None
    stream_out: StreamOutcome | None = None

    def serve(self, target: Target) -> None:
        """The deployment that answered: priced and billed as it."""
        self.served = target
        self.provider = target.deployment.provider

    @property
    def overhead(self) -> float:
        """Seconds spent in the router, not waiting on upstreams."""
        return max(0.0, time.monotonic() - self.t_start - self.call.upstream_wait)


def stream_usage(state: RouterState, tally: Tally, fields: dict[str, Any]) -> Usage | None:
    """Usage of a finished or abandoned stream (estimated when no usage chunk came);
    records its time to first token, error and disconnect."""
    out = tally.stream_out
    if out is None:
        return tally.usage
    m = state.metrics
    if out.first_chunk_at is not None:
        m.ttft_c.get(tally.model, tally.provider).observe(out.first_chunk_at - tally.t_start)
    if out.error is not None:
        fields["stream_error"] = out.error.code
        fields["error_detail"] = out.error.detail
    if out.disconnected:
        m.client_disconnects.inc()
        fields["client_disconnected"] = True
    if out.usage is not None:
        return out.usage
    # interrupted stream: bill what was streamed (estimated), nothing more
    completion = out.completion_estimate()
    return Usage(
        prompt_tokens=tally.prompt_estimate,
        completion_tokens=completion,
        total_tokens=tally.prompt_estimate + completion,
    )


async def settle(
    state: RouterState,
    principal: Principal,
    admission: Admission,
    tally: Tally,
    fields: dict[str, Any],
) -> None:
    """Price the request, settle its limits, bill it and record its metrics (once)."""
    usage = stream_usage(state, tally, fields)
    served = tally.served
    pricing = served.deployment.card.pricing if served is not None else tally.pricing
    cost = cost_usd(pricing, usage) if usage is not None else 0.0
    used = usage.total_tokens if usage is not None else 0
    await state.limiter.settle(admission, principal.limits, used, cost)
    if usage is not None:
        billed = (served.route or tally.route) if served is not None else tally.route
        bill(state, principal, billed, usage, cost)
        fields["prompt_tokens"] = usage.prompt_tokens
        fields["completion_tokens"] = usage.completion_tokens
    fields["provider"] = tally.provider
    fields["served_model"] = tally.served_model or tally.model
    stream = "true" if tally.stream else "false"
    m = state.metrics
    m.request_duration_c.get(tally.model, tally.provider, stream).observe(
        time.monotonic() - tally.t_start
    )
    m.overhead_c.get(stream).observe(tally.overhead)


def bill(state: RouterState, principal: Principal, model: str, usage: Usage, cost: float) -> None:
    """Token and cost metrics, tenant series and one ledger event."""
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
