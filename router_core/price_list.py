"""The genai-prices reader: runs in a short-lived child process
(``python -m router_core.price_list``), never in the router.

Importing the package and parsing its bundled data costs about 15 MB of resident memory
(pydantic, httpx and the whole price list) that Python would keep for the life of the
process, while a router needs a few dozen rates. So the catalog (price_source.py) sends
the (provider id, model id) pairs it needs on stdin, this module answers each with the
model's prices in force now and its context window as JSON on stdout, and exits.

The package's data is read offline: its price-update thread is never started.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from router_core.api.models import PriceTier, Pricing

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, Tier, TieredPrices

#: Our field for each genai-prices price key.
_KEYS = {
    "input_mtok": "prompt_per_mtok",
    "output_mtok": "completion_per_mtok",
    "cache_read_mtok": "cache_read_per_mtok",
    "cache_write_mtok": "cache_write_per_mtok",
    "cache_write_1h_mtok": "cache_write_1h_per_mtok",
    "output_reasoning_mtok": "reasoning_per_mtok",
}


class Listed(msgspec.Struct, frozen=True):
    """What the maintained price list says about one model."""

    pricing: Pricing
    context_window: int | None


class Answer(msgspec.Struct, frozen=True):
    """The child's reply: one entry per asked pair, in order (None: not listed)."""

    found: list[Listed | None]


#: The request: (genai-prices provider id, lower-cased model id) pairs.
Pairs = list[tuple[str, str]]


def answer(pairs: Pairs) -> Answer:
    """Look every pair up in the installed package's bundled data."""
    import genai_prices
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    source = f"genai-prices {genai_prices.__version__}"
    now = datetime.now(tz=UTC)
    found: list[Listed | None] = []
    for provider_id, model_ref in pairs:
        try:
            _, model = snapshot.find_provider_model(model_ref, None, provider_id, None)
        except LookupError:
            found.append(None)
            continue
        pricing = to_pricing(_current_prices(model, now), source)
        found.append(Listed(pricing, model.context_window))
    return Answer(found)


def _current_prices(model: ModelInfo, now: datetime) -> ModelPrice:
    """The model's standard prices in force now. Time-of-day prices (off-peak discounts)
    are skipped: a catalog lives for hours, so it keeps the standard rate."""
    from genai_prices.types import ModelPrice, StartDateConstraint

    if isinstance(model.prices, ModelPrice):
        return model.prices
    for conditional in reversed(model.prices):
        c = conditional.constraint
        if c is None or (isinstance(c, StartDateConstraint) and c.active(now)):
            return conditional.prices
    return model.prices[0].prices


def to_pricing(prices: ModelPrice, source: str) -> Pricing:
    """Our Pricing from a genai-prices ModelPrice: base rates, and one tier per distinct
    threshold with every rate resolved at it (genai-prices prices each key by the same
    prompt total, so this is exact)."""
    values: dict[str, Decimal | TieredPrices] = {}
    for key, ours in _KEYS.items():
        value = getattr(prices, key, None)
        if value is not None:
            values[ours] = value
    base = {ours: float(_at(v, -1)) for ours, v in values.items()}
    starts = sorted({t.start for v in values.values() for t in _tiers(v)})
    tiers = [
        PriceTier(above_input_tokens=s, **{o: float(_at(v, s)) for o, v in values.items()})
        for s in starts
    ]
    return Pricing(**base, tiers=tiers, source=source)


def _tiers(value: Decimal | TieredPrices) -> list[Tier]:
    return [] if isinstance(value, Decimal) else value.tiers


def _at(value: Decimal | TieredPrices, start: int) -> Decimal:
    """The rate for prompts above ``start`` (-1: the base rate)."""
    if isinstance(value, Decimal):
        return value
    rate = value.base
    for tier in value.tiers:
        if tier.start <= start:
            rate = tier.price
    return rate


def main() -> int:
    pairs = msgspec.json.decode(sys.stdin.buffer.read(), type=Pairs)
    sys.stdout.buffer.write(msgspec.json.encode(answer(pairs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
