"""Config for the door guards: request size and shape limits, content filters."""

from __future__ import annotations

from msgspec import Struct


class GuardSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    #: Most messages in one request.
    max_messages: int = 2048
    #: Most tools in one request.
    max_tools: int = 128
