"""The echo provider's ``settings`` table."""

from __future__ import annotations

from typing import Annotated

import msgspec


class EchoSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``delay_ms``: pause between streamed tokens (a non-streamed answer waits the sum);
    ``models``: the model ids offered; ``context_length`` / ``max_output_tokens``: their cards;
    ``embedding_dimensions``: the length of echo's embedding vectors when the request
    sets no ``dimensions``."""

    delay_ms: Annotated[float, msgspec.Meta(ge=0, le=60_000)] = 0.0
    models: Annotated[list[str], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["echo-1"]
    )
    context_length: Annotated[int, msgspec.Meta(ge=1)] = 32768
    max_output_tokens: Annotated[int, msgspec.Meta(ge=1)] = 4096
    embedding_dimensions: Annotated[int, msgspec.Meta(ge=1, le=8192)] = 64
