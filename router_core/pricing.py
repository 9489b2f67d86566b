"""What a request costs: one function, so every rate (cache reads and writes,
tiers) is added in one place."""

from __future__ import annotations

from router_core.api.chat import Usage
from router_core.api.models import Pricing


def cost_usd(pricing: Pricing, usage: Usage) -> float:
    """US dollars for ``usage`` at ``pricing`` (prices are per million tokens)."""
    return (
        usage.prompt_tokens * pricing.prompt_per_mtok
        + usage.completion_tokens * pricing.completion_per_mtok
    ) / 1e6
