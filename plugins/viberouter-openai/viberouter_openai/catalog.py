"""Default model cards for OpenAI's current chat models."""

from __future__ import annotations

from typing import NamedTuple

from router_core.plugin_api import Capabilities, ModelCard, Pricing


class _Spec(NamedTuple):
    context: int
    max_output: int
    prompt_per_mtok: float
    completion_per_mtok: float
    vision: bool = True


# Figures are from general knowledge of OpenAI's published model pages and price list
# (mid 2025), not re-verified here; operators override them per model in config.
_SPECS: dict[str, _Spec] = {
    "gpt-4o": _Spec(128_000, 16_384, 2.50, 10.00),
    "gpt-4o-mini": _Spec(128_000, 16_384, 0.15, 0.60),
    "gpt-4.1": _Spec(1_047_576, 32_768, 2.00, 8.00),
    "gpt-4.1-mini": _Spec(1_047_576, 32_768, 0.40, 1.60),
    "gpt-4.1-nano": _Spec(1_047_576, 32_768, 0.10, 0.40),
    "gpt-5": _Spec(400_000, 128_000, 1.25, 10.00),
    "gpt-5-mini": _Spec(400_000, 128_000, 0.25, 2.00),
    "gpt-5-nano": _Spec(400_000, 128_000, 0.05, 0.40),
    "o3": _Spec(200_000, 100_000, 2.00, 8.00),
    "o3-mini": _Spec(200_000, 100_000, 1.10, 4.40, vision=False),
    "o4-mini": _Spec(200_000, 100_000, 1.10, 4.40),
}


# Embedding models: (input window in tokens, $ per million input tokens), from OpenAI's
# price list (mid 2025), like the figures above.
_EMBEDDING_SPECS: dict[str, tuple[int, float]] = {
    "text-embedding-3-small": (8191, 0.02),
    "text-embedding-3-large": (8191, 0.13),
    "text-embedding-ada-002": (8191, 0.10),
}


def default_cards(owned_by: str, only: list[str] | None = None) -> list[ModelCard]:
    """Cards for the built-in catalogue, or for ``only`` (unknown ids get a generic card)."""
    ids = [*_SPECS, *_EMBEDDING_SPECS] if only is None else only
    return [_card(model, owned_by) for model in ids]


def _embedding_card(model: str, owned_by: str) -> ModelCard:
    window, price = _EMBEDDING_SPECS[model]
    return ModelCard(
        id=model,
        owned_by=owned_by,
        context_length=window,
        max_output_tokens=1,
        pricing=Pricing(prompt_per_mtok=price),
        capabilities=Capabilities(streaming=False, embeddings=True),
    )


def _card(model: str, owned_by: str) -> ModelCard:
    if model in _EMBEDDING_SPECS:
        return _embedding_card(model, owned_by)
    spec = _SPECS.get(model)
    if spec is None:
        # A self-hosted model: nothing is known beyond the OpenAI-compatible API (an
        # embedding model gets `capabilities = { embeddings = true }` in config).
        caps = Capabilities(tools=True, streaming=True, vision=False, json_mode=False)
        return ModelCard(id=model, owned_by=owned_by, capabilities=caps)
    return ModelCard(
        id=model,
        owned_by=owned_by,
        context_length=spec.context,
        max_output_tokens=spec.max_output,
        pricing=Pricing(
            prompt_per_mtok=spec.prompt_per_mtok, completion_per_mtok=spec.completion_per_mtok
        ),
        capabilities=Capabilities(tools=True, streaming=True, vision=spec.vision, json_mode=True),
    )
