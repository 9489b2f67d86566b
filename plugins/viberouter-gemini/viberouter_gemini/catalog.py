"""Default model cards for well-known Gemini models.

Context windows, output caps and prices (US$ per million tokens, paid tier, prompts
up to 200k tokens, text input) are from Google's public Gemini API model and price
lists as of late 2025; operators override them in config when Google changes them.
"""

from __future__ import annotations

from router_core.plugin_api import Capabilities, ModelCard, Pricing

_CAPS = Capabilities(tools=True, streaming=True, vision=True, json_mode=True)
_MTOK_CONTEXT = 1_048_576

# (id, context_length, max_output_tokens, input $/Mtok, output $/Mtok)
_MODELS: tuple[tuple[str, int, int, float, float], ...] = (
    ("gemini-3-pro-preview", _MTOK_CONTEXT, 65_536, 2.00, 12.00),
    ("gemini-3-flash-preview", _MTOK_CONTEXT, 65_536, 0.50, 3.00),
    ("gemini-2.5-pro", _MTOK_CONTEXT, 65_536, 1.25, 10.00),
    ("gemini-2.5-flash", _MTOK_CONTEXT, 65_536, 0.30, 2.50),
    ("gemini-2.5-flash-lite", _MTOK_CONTEXT, 65_536, 0.10, 0.40),
    ("gemini-2.0-flash", _MTOK_CONTEXT, 8_192, 0.10, 0.40),
    ("gemini-2.0-flash-lite", _MTOK_CONTEXT, 8_192, 0.075, 0.30),
)


# Embedding models: (id, input window in tokens, $ per million input tokens).
_EMBEDDING_MODELS: tuple[tuple[str, int, float], ...] = (("gemini-embedding-001", 2048, 0.15),)


def default_cards() -> list[ModelCard]:
    """Fresh cards (callers may mutate them)."""
    return [*_chat_cards(), *_embedding_cards()]


def _embedding_cards() -> list[ModelCard]:
    return [
        ModelCard(
            id=model_id,
            owned_by="google",
            context_length=window,
            max_output_tokens=1,
            pricing=Pricing(prompt_per_mtok=price),
            capabilities=Capabilities(streaming=False, embeddings=True),
        )
        for model_id, window, price in _EMBEDDING_MODELS
    ]


def _chat_cards() -> list[ModelCard]:
    return [
        ModelCard(
            id=model_id,
            owned_by="google",
            context_length=context,
            max_output_tokens=max_out,
            pricing=Pricing(prompt_per_mtok=price_in, completion_per_mtok=price_out),
            capabilities=Capabilities(
                tools=_CAPS.tools,
                streaming=_CAPS.streaming,
                vision=_CAPS.vision,
                json_mode=_CAPS.json_mode,
            ),
        )
        for model_id, context, max_out, price_in, price_out in _MODELS
    ]
