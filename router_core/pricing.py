"""What a request costs: one function, so every rate (cache reads and writes,
long-context tiers, reasoning) is added in one place.

Plain float arithmetic on the card's :class:`Pricing` (filled once when the catalog is
built, router_core/price_source.py): nothing is looked up per request. The usage
fields are the canonical ones (plugin_api's "Usage fields"): ``prompt_tokens`` counts
every input token, ``cached_tokens`` and ``cache_write_tokens`` are parts of it;
``completion_tokens`` includes ``reasoning_tokens``.
"""

from __future__ import annotations

from router_core.api.chat import CompletionTokensDetails, PromptTokensDetails, Usage
from router_core.api.models import PriceTier, Pricing


def cost_usd(pricing: Pricing, usage: Usage) -> float:
    """US dollars for ``usage`` at ``pricing`` (prices are per million tokens).

    Cache reads pay the cache-read rate, cache writes the cache-write rate, the rest of
    the prompt the prompt rate (an unknown cache rate: the prompt rate); reasoning pays
    its own rate where there is one. Once the prompt exceeds a tier's threshold, the
    whole request pays that tier's rates."""
    prompt = max(0, usage.prompt_tokens)
    completion = max(0, usage.completion_tokens)
    cached, written = _prompt_parts(usage.prompt_tokens_details, prompt)
    reasoning = _reasoning(usage.completion_tokens_details, completion)
    tier = _tier(pricing.tiers, prompt)
    p_in = _rate(tier.prompt_per_mtok, pricing.prompt_per_mtok)
    p_out = _rate(tier.completion_per_mtok, pricing.completion_per_mtok)
    p_read = _rate(tier.cache_read_per_mtok, pricing.cache_read_per_mtok, p_in)
    p_write = _rate(tier.cache_write_per_mtok, pricing.cache_write_per_mtok, p_in)
    p_reason = _rate(tier.reasoning_per_mtok, pricing.reasoning_per_mtok, p_out)
    return (
        (prompt - cached - written) * p_in
        + cached * p_read
        + written * p_write
        + (completion - reasoning) * p_out
        + reasoning * p_reason
    ) / 1e6


def _prompt_parts(details: object, prompt: int) -> tuple[int, int]:
    """Cache reads and writes, each clamped so that together they fit in the prompt."""
    if not isinstance(details, PromptTokensDetails):
        return 0, 0
    cached = details.cached_tokens if isinstance(details.cached_tokens, int) else 0
    written = details.cache_write_tokens if isinstance(details.cache_write_tokens, int) else 0
    cached = min(max(0, cached), prompt)
    return cached, min(max(0, written), prompt - cached)


def _reasoning(details: object, completion: int) -> int:
    if not isinstance(details, CompletionTokensDetails):
        return 0
    n = details.reasoning_tokens
    return min(max(0, n), completion) if isinstance(n, int) else 0


#: Below every threshold: every rate is the base one.
_BASE = PriceTier(above_input_tokens=0)


def _tier(tiers: list[PriceTier], prompt: int) -> PriceTier:
    """The highest tier whose threshold the prompt exceeds (tiers are sorted)."""
    found = _BASE
    for tier in tiers:
        if prompt > tier.above_input_tokens:
            found = tier
    return found


def _rate(*candidates: float | None) -> float:
    """The first rate that is known (the last candidate always is)."""
    for c in candidates:
        if c is not None:
            return c
    return 0.0
