"""Reasoning requests -> Anthropic ``thinking``, with ``max_tokens`` made to fit.

Sources, first found wins: the native ``thinking`` extra (Anthropic's own object,
sent as is), the ``thinking_budget`` extra, OpenRouter's ``reasoning`` object
(``max_tokens`` is the budget; an ``effort`` or ``enabled`` maps like
``reasoning_effort``), then ``reasoning_effort``. Anthropic counts thinking inside
``max_tokens`` and wants the budget below it (at least 1024): an effort whose budget
does not fit the client's output cap raises ``max_tokens`` to budget + cap (up to the
model's maximum), so the client still gets the answer length it asked for. Thinking
fixes the sampling: ``temperature`` and ``top_k`` are left out and ``top_p`` is kept
only from 0.95 up, as Anthropic requires.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from router_core.plugin_api import ChatRequest, InvalidRequest, ModelCard

from .settings import AnthropicExtras
from .wire import MessagesRequest, ThinkingParam

#: Anthropic's smallest thinking budget.
MIN_BUDGET = 1024
#: ``reasoning_effort`` (and ``reasoning.effort``) -> ``budget_tokens``.
EFFORT_BUDGETS: dict[str, int] = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 32768,
}
_MIN_TOP_P = 0.95


def _requested(request: ChatRequest, extras: AnthropicExtras | None) -> tuple[str, int | None]:
    """(source, budget): budget None means "no thinking"."""
    if extras is not None and extras.thinking_budget is not None:
        return "thinking_budget", extras.thinking_budget
    reasoning = request.reasoning
    if reasoning is not None:
        if reasoning.enabled is False or reasoning.effort == "none":
            return "reasoning", None
        if reasoning.max_tokens is not None:
            return "reasoning", reasoning.max_tokens or None
        return "reasoning", EFFORT_BUDGETS[reasoning.effort or "medium"]
    effort = request.reasoning_effort
    if effort is None or effort == "none":
        return "reasoning_effort", None
    if effort not in EFFORT_BUDGETS:
        raise InvalidRequest(
            f"reasoning_effort: {effort!r} is not one of none, {', '.join(EFFORT_BUDGETS)}"
        )
    return "reasoning_effort", EFFORT_BUDGETS[effort]


def apply_reasoning(
    body: MessagesRequest,
    request: ChatRequest,
    extras: AnthropicExtras | None,
    card: ModelCard,
) -> None:
    """Set ``body.thinking`` (and fit ``max_tokens`` and sampling) as requested."""
    native = extras.thinking if extras is not None else None
    if native is not None:
        thinking = ThinkingParam(type=native.type)
        if native.budget_tokens is not None:
            thinking.budget_tokens = native.budget_tokens
        if native.type == "enabled":
            if native.budget_tokens is None:
                raise InvalidRequest("thinking.budget_tokens: Field required")
            if native.budget_tokens >= body.max_tokens:
                raise InvalidRequest(
                    f"thinking.budget_tokens: must be below max_tokens ({body.max_tokens})"
                )
        body.thinking = thinking
    else:
        source, budget = _requested(request, extras)
        if budget is None:
            return
        if source == "thinking_budget":
            if budget >= body.max_tokens:
                raise InvalidRequest(
                    "thinking_budget: must be below max_completion_tokens / max_tokens "
                    f"({body.max_tokens})"
                )
        else:
            budget = _fit(body, request, card, source, budget)
        body.thinking = ThinkingParam(budget_tokens=budget)
    if thinking_enabled(body):
        _thinking_sampling(body)


def _fit(
    body: MessagesRequest, request: ChatRequest, card: ModelCard, source: str, budget: int
) -> int:
    budget = max(budget, MIN_BUDGET)
    if budget >= body.max_tokens:
        body.max_tokens = min(card.max_output_tokens, budget + body.max_tokens)
        budget = min(budget, body.max_tokens - 1)
    if budget < MIN_BUDGET:
        raise InvalidRequest(
            f"{source}: {card.id} can write at most {card.max_output_tokens} tokens, too few "
            f"for Anthropic's smallest thinking budget ({MIN_BUDGET}) and an answer"
        )
    return budget


def _thinking_sampling(body: MessagesRequest) -> None:
    # Anthropic refuses temperature / top_k changes (and top_p below 0.95) while the
    # model thinks; clients send them by habit, so they are left out, not refused.
    body.temperature = UNSET
    body.top_k = UNSET
    if isinstance(body.top_p, float) and body.top_p < _MIN_TOP_P:
        body.top_p = UNSET


def thinking_enabled(body: MessagesRequest) -> bool:
    """Whether the body asks Anthropic to think."""
    return not isinstance(body.thinking, UnsetType) and body.thinking.type != "disabled"


def reasoning_hidden(request: ChatRequest) -> bool:
    """OpenRouter's ``reasoning.exclude``: think, but return no reasoning."""
    return request.reasoning is not None and bool(request.reasoning.exclude)


__all__ = [
    "EFFORT_BUDGETS",
    "MIN_BUDGET",
    "apply_reasoning",
    "reasoning_hidden",
    "thinking_enabled",
]
