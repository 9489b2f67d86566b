"""``GET /v1/models`` wire types: model cards with capabilities, pricing and status."""

from __future__ import annotations

from typing import Literal

from msgspec import Struct, field

ModelStatus = Literal["available", "degraded", "unavailable"]


class Pricing(Struct, kw_only=True):
    """Prices in US dollars per million tokens."""

    #: US dollars per million prompt tokens.
    prompt_per_mtok: float = 0.0
    #: US dollars per million completion tokens.
    completion_per_mtok: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
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


__all__ = ["Capabilities", "ModelCard", "ModelList", "ModelStatus", "Pricing"]
