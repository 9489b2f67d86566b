"""Where each deployment's prices (and a missing context window) come from, decided
once when the catalog is built, never per request.

Precedence: the deployment's ``pricing`` in config, then the ``genai-prices`` package's
bundled data (a maintained price list: cache reads and writes, long-context tiers), then
the prices the plugin typed on its card; a model found nowhere costs 0 and is shown as
unpriced (``pricing.source = "none"``). The package is imported only when a card is
looked up (its import takes a few tenths of a second, pydantic) and its data is read
offline: its price-update thread is never started. Lookups are cached per process.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from router_core.api.models import ModelCard, PriceTier, Pricing

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice, Tier, TieredPrices

#: ``Pricing.source`` values besides "genai-prices <version>".
FROM_CONFIG = "config"
FROM_PLUGIN = "plugin"
UNPRICED = "none"

#: Our field for each genai-prices price key.
_KEYS = {
    "input_mtok": "prompt_per_mtok",
    "output_mtok": "completion_per_mtok",
    "cache_read_mtok": "cache_read_per_mtok",
    "cache_write_mtok": "cache_write_per_mtok",
    "cache_write_1h_mtok": "cache_write_1h_per_mtok",
    "output_reasoning_mtok": "reasoning_per_mtok",
}

#: The window a card has when nobody set one (ModelCard's default).
DEFAULT_CONTEXT = ModelCard(id="").context_length


@dataclass(frozen=True, slots=True)
class Listed:
    """What the maintained price list says about one model."""

    pricing: Pricing
    context_window: int | None


@dataclass(frozen=True, slots=True)
class Priced:
    """A card with its prices settled; ``unpriced`` when no source knew the model."""

    card: ModelCard
    unpriced: bool


def price_card(
    card: ModelCard,
    *,
    configured: Pricing | None,
    configured_window: bool,
    price_provider: str,
    model_ids: Sequence[str],
) -> Priced:
    """``card`` with its pricing (and ``pricing.source``) chosen by the precedence
    above; a card still at the default window takes the price list's window unless
    config set it. ``price_provider`` is the genai-prices provider id ("" = no lookup:
    the plugin's card prices are complete); ``model_ids`` are tried in order (upstream
    id, published id, aliases)."""
    listed = lookup(price_provider, model_ids) if price_provider else None
    changes: dict[str, object] = {}
    if configured is not None:
        changes["pricing"] = msgspec.structs.replace(configured, source=FROM_CONFIG)
    elif listed is not None:
        changes["pricing"] = listed.pricing
    else:
        stated = card.pricing.prompt_per_mtok > 0 or card.pricing.completion_per_mtok > 0
        source = FROM_PLUGIN if stated or not price_provider else UNPRICED
        changes["pricing"] = msgspec.structs.replace(card.pricing, source=source)
    window = listed.context_window if listed is not None else None
    if window and not configured_window and card.context_length == DEFAULT_CONTEXT:
        changes["context_length"] = window
    priced = msgspec.structs.replace(card, **changes)
    return Priced(priced, priced.pricing.source == UNPRICED)


def lookup(provider_id: str, model_ids: Sequence[str]) -> Listed | None:
    """The first of ``model_ids`` the price list knows under ``provider_id``."""
    for mid in dict.fromkeys(m.lower().removeprefix("models/") for m in model_ids if m):
        found = _lookup(provider_id, mid)
        if found is not None:
            return found
    return None


@functools.lru_cache(maxsize=4096)
def _lookup(provider_id: str, model_ref: str) -> Listed | None:
    import genai_prices  # deferred: a few tenths of a second, paid only when needed
    from genai_prices import data_snapshot

    try:
        _, model = data_snapshot.get_snapshot().find_provider_model(
            model_ref, None, provider_id, None
        )
    except LookupError:
        return None
    prices = _current_prices(model, datetime.now(tz=UTC))
    return Listed(
        to_pricing(prices, f"genai-prices {genai_prices.__version__}"), model.context_window
    )


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
