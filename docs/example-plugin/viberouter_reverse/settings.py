"""The provider's ``settings`` table and the request extras it honours."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class ReverseSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[providers.<name>.settings]`` for a Reverse API provider. The core validates
    the table against this Struct at start-up (unknown keys fail, naming the path) and
    resolves ``"env:NAME"`` values before they get here."""

    base_url: Annotated[str, msgspec.Meta(min_length=1)] = "http://127.0.0.1:9090"
    api_key: str | None = None
    models: Annotated[list[str], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["reverse-1"]
    )
    context_length: Annotated[int, msgspec.Meta(ge=1)] = 4096


class ReverseExtras(msgspec.Struct, kw_only=True):
    """Request fields beyond the OpenAI API that this provider honours: a client sends
    ``"reverse_mode": "letters"`` next to ``model`` and ``messages``."""

    reverse_mode: Literal["words", "letters"] | None = None
