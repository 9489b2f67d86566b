"""What a request costs: one function, so every rate (cache reads and writes,
long-context tiers, reasoning) is added in one place.

Plain float arithmetic on the card's :class:`Pricing` (filled once when the catalog is
built, router_core/price_source.py): nothing is looked up per request. The usage
fields are the canonical ones (plugin_api's "Usage fields"): ``prompt_tokens`` counts
every input token, ``cached_tokens`` and ``cache_write_tokens`` are parts of it, and
``cache_write_1h_tokens`` a part of ``cache_write_tokens``; ``completion_tokens``
includes ``reasoning_tokens``.
"""

from __future__ import annotations

from router_core.api.chat import CompletionTokensDetails, PromptTokensDetails, Usage
from router_core.api.models import PriceTier, Pricing


def cost_usd(pricing: Pricing, usage: Usage) -> float:
    """US dollars for ``usage`` at ``pricing`` (prices are per million tokens).

    Cache reads pay the cache-read rate, cache writes the cache-write rate (one-hour
    writes their own, unknown: the cache-write rate), the rest of the prompt the prompt
    rate (an unknown cache rate: the prompt rate); reasoning pays its own rate where
    there is one. Once the prompt exceeds a tier's threshold, the whole request pays
    that tier's rates."""
    prompt = max(0, usage.prompt_tokens)
    completion = max(0, usage.completion_tokens)
    p_details, c_details = usage.prompt_tokens_details, usage.completion_tokens_details
    if (
        not pricing.tiers
        and not isinstance(p_details, PromptTokensDetails)
        and not isinstance(c_details, CompletionTokensDetails)
    ):
        # the common case, no parts and no tiers: the sum below without its lookups
        return (prompt * pricing.prompt_per_mtok + completion * pricing.completion_per_mtok) / 1e6
    cached, written, written_1h = _prompt_parts(p_details, prompt)
    reasoning = _reasoning(c_details, completion)
    tier = _tier(pricing.tiers, prompt)
    p_in = _rate(tier.prompt_per_mtok, pricing.prompt_per_mtok)
    p_out = _rate(tier.completion_per_mtok, pricing.completion_per_mtok)
    p_read = _rate(tier.cache_read_per_mtok, pricing.cache_read_per_mtok, p_in)
    p_write = _rate(tier.cache_write_per_mtok, pricing.cache_write_per_mtok, p_in)
    p_write_1h = _rate(tier.cache_write_1h_per_mtok, pricing.cache_write_1h_per_mtok, p_write)
    p_reason = _rate(tier.reasoning_per_mtok, pricing.reasoning_per_mtok, p_out)
    return (
        (prompt - cached - written) * p_in
        + cached * p_read
        + (written - written_1h) * p_write
        + written_1h * p_write_1h
        + (completion - reasoning) * p_out
        + reasoning * p_reason
    ) / 1e6


def _prompt_parts(details: object, prompt: int) -> tuple[int, int, int]:
    """Cache reads, writes and the writes' one-hour part, each clamped so that reads
    and writes together fit in the prompt and the one-hour part in the writes."""
    if not isinstance(details, PromptTokensDetails):
        return 0, 0, 0
    cached = min(max(0, _count(details.cached_tokens)), prompt)
    written = min(max(0, _count(details.cache_write_tokens)), prompt - cached)
    return cached, written, min(max(0, _count(details.cache_write_1h_tokens)), written)


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


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
