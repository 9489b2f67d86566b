"""Default model cards for well-known Claude models.

Figures (context window, max output, USD per million tokens) are from Anthropic's
public model overview and price list as of writing (late 2025); operators override
them in config when Anthropic changes them. Prices are base rates: cache reads,
cache writes, batch and long-context (>200K) surcharges are not modelled here.
``json_mode`` is true for every model: JSON modes are native where
``structured_outputs`` is set (Anthropic's structured outputs: Sonnet 4.5, Opus 4.1
and 4.5, Haiku 4.5) and emulated with a forced tool elsewhere; ``reasoning`` marks the
models with extended thinking (Claude 3.7 and the 4.x family).
"""

from __future__ import annotations

from typing import NamedTuple

from router_core.plugin_api import Capabilities, ModelCard, Pricing


class _Spec(NamedTuple):
    id: str
    aliases: tuple[str, ...]
    context_length: int
    max_output_tokens: int
    prompt_per_mtok: float
    completion_per_mtok: float
    structured_outputs: bool = False
    reasoning: bool = True


_SPECS: tuple[_Spec, ...] = (
    _Spec("claude-opus-4-5-20251101", ("claude-opus-4-5",), 200_000, 64_000, 5.0, 25.0, True),
    _Spec("claude-opus-4-1-20250805", ("claude-opus-4-1",), 200_000, 32_000, 15.0, 75.0, True),
    _Spec("claude-opus-4-20250514", ("claude-opus-4-0",), 200_000, 32_000, 15.0, 75.0),
    _Spec("claude-sonnet-4-5-20250929", ("claude-sonnet-4-5",), 200_000, 64_000, 3.0, 15.0, True),
    _Spec("claude-sonnet-4-20250514", ("claude-sonnet-4-0",), 200_000, 64_000, 3.0, 15.0),
    _Spec("claude-haiku-4-5-20251001", ("claude-haiku-4-5",), 200_000, 64_000, 1.0, 5.0, True),
    _Spec("claude-3-7-sonnet-20250219", ("claude-3-7-sonnet-latest",), 200_000, 64_000, 3.0, 15.0),
    _Spec(
        "claude-3-5-sonnet-20241022",
        ("claude-3-5-sonnet-latest",),
        200_000,
        8_192,
        3.0,
        15.0,
        reasoning=False,
    ),
    _Spec(
        "claude-3-5-haiku-20241022",
        ("claude-3-5-haiku-latest",),
        200_000,
        8_192,
        0.8,
        4.0,
        reasoning=False,
    ),
)


def default_model_cards() -> list[ModelCard]:
    """Fresh cards (callers may mutate them) for the models above."""
    return [
        ModelCard(
            id=spec.id,
            owned_by="anthropic",
            context_length=spec.context_length,
            max_output_tokens=spec.max_output_tokens,
            pricing=Pricing(
                prompt_per_mtok=spec.prompt_per_mtok,
                completion_per_mtok=spec.completion_per_mtok,
            ),
            capabilities=Capabilities(
                tools=True,
                streaming=True,
                vision=True,
                json_mode=True,
                structured_outputs=spec.structured_outputs,
                reasoning=spec.reasoning,
            ),
            aliases=list(spec.aliases),
        )
        for spec in _SPECS
    ]


__all__ = ["default_model_cards"]
