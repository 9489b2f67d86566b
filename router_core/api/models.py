"""``GET /v1/models`` wire types: model cards with capabilities, pricing and status."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct, field

ModelStatus = Literal["available", "degraded", "unavailable"]


class PriceTier(Struct, kw_only=True, forbid_unknown_fields=True):
    """Long-context rates: a request whose prompt has more than ``above_input_tokens``
    tokens pays these rates for ALL its tokens (an unset rate keeps the base one)."""

    #: The tier applies once the prompt (cached tokens included) exceeds this many tokens.
    above_input_tokens: int
    #: US dollars per million prompt tokens above the threshold (unset: the base rate).
    prompt_per_mtok: float | None = None
    #: US dollars per million completion tokens above the threshold.
    completion_per_mtok: float | None = None
    #: US dollars per million cache-read tokens above the threshold.
    cache_read_per_mtok: float | None = None
    #: US dollars per million cache-write tokens above the threshold.
    cache_write_per_mtok: float | None = None
    #: US dollars per million one-hour cache-write tokens above the threshold.
    cache_write_1h_per_mtok: float | None = None
    #: US dollars per million reasoning tokens above the threshold.
    reasoning_per_mtok: float | None = None


class Pricing(Struct, kw_only=True, forbid_unknown_fields=True):
    """Prices in US dollars per million tokens. A rate left unset (null) is unknown:
    cache reads and writes are then billed at the prompt rate, reasoning at the
    completion rate (router_core/pricing.py)."""

    #: US dollars per million prompt tokens (the ones not read from or written to a cache).
    prompt_per_mtok: float = 0.0
    #: US dollars per million completion tokens.
    completion_per_mtok: float = 0.0
    #: US dollars per million prompt tokens read from a prompt cache.
    cache_read_per_mtok: float | None = None
    #: US dollars per million prompt tokens written to a prompt cache (5-minute TTL).
    cache_write_per_mtok: float | None = None
    #: US dollars per million prompt tokens written to a one-hour prompt cache (unset:
    #: the cache-write rate).
    cache_write_1h_per_mtok: float | None = None
    #: US dollars per million reasoning tokens, where priced apart from completion tokens.
    reasoning_per_mtok: float | None = None
    #: Long-context tiers, lowest threshold first.
    tiers: list[PriceTier] = field(default_factory=list)
    #: Where these prices come from: "config", "genai-prices <version>", "plugin" (the
    #: plugin's own card) or "none" (unpriced: costs 0). Set by the catalog.
    source: str = ""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Base rates only; the core bills cache, tiers and reasoning with pricing.cost_usd."""
        return (
            prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok
        ) / 1e6


class Capabilities(Struct, kw_only=True):
    """What a model supports."""

    #: Accepts tools and returns tool calls.
    tools: bool = False
    #: Can stream.
    streaming: bool = True
    #: Accepts image parts.
    vision: bool = False
    #: Honours response_format json_object / json_schema.
    json_mode: bool = False
    #: Enforces a response_format json_schema natively (constrained decoding); without
    #: it a provider may still emulate JSON modes (see json_mode).
    structured_outputs: bool = False
    #: Can reason before answering (reasoning_effort / reasoning honoured).
    reasoning: bool = False
    #: Serves POST /v1/embeddings (its prompt price is the embedding price).
    embeddings: bool = False


class ModelCard(Struct, kw_only=True):
    """One model as clients see it. Plugins return cards for the models they offer;
    the catalog fills ``provider`` and ``status``."""

    id: str
    object_: Literal["model"] = field(name="object", default="model")
    created: int = 0
    owned_by: str = "viberouter"
    provider: str = ""
    context_length: int = 8192
    max_output_tokens: int = 4096
    pricing: Pricing = field(default_factory=Pricing)
    capabilities: Capabilities = field(default_factory=Capabilities)
    status: ModelStatus = "available"
    aliases: list[str] = field(default_factory=list)


class ModelList(Struct, kw_only=True):
    object_: Literal["list"] = field(name="object", default="list")
    data: list[ModelCard]


__all__ = ["Capabilities", "ModelCard", "ModelList", "ModelStatus", "PriceTier", "Pricing"]
