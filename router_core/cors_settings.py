"""The ``[cors]`` section: which browser origins may call the API (see cors.py)."""

from __future__ import annotations

from msgspec import Struct, field


class CorsSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Browser access to the API from other origins (off while allow_origins is empty)."""

    #: Origins allowed to call the API ("https://app.example.com"); ["*"] allows any
    #: origin (then credentials are never allowed). Empty: CORS off, OPTIONS gets 405.
    allow_origins: list[str] = []
    #: Request headers a browser may send (preflight answer); ["*"] echoes what it asks.
    allow_headers: list[str] = field(
        default_factory=lambda: [
            "authorization",
            "content-type",
            "x-api-key",
            "anthropic-version",
            "anthropic-beta",
            "x-request-id",
        ]
    )
    #: Seconds a browser may cache a preflight answer.
    max_age_s: int = 600
