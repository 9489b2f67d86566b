"""Prompt-cache breakpoints: at most four per request, as Anthropic allows.

Anthropic answers 400 to a fifth ``cache_control``. Clients that mark every turn
(a common LiteLLM / OpenRouter habit) would then fail, so only the last four in
prompt order (tools, then system, then messages) are kept: the latest breakpoints
cover the longest prefixes, which is what caching the conversation needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from msgspec import UNSET, UnsetType

from .wire import MessagesRequest, ToolResultBlock

#: Anthropic's limit on ``cache_control`` breakpoints in one request.
MAX_BREAKPOINTS = 4


def _marked(body: MessagesRequest) -> Iterator[Any]:
    yield from body.tools if not isinstance(body.tools, UnsetType) else ()
    yield from body.system if not isinstance(body.system, UnsetType) else ()
    for turn in body.messages:
        for item in turn.content:
            if isinstance(item, ToolResultBlock) and isinstance(item.content, list):
                yield from item.content
            yield item


def limit_breakpoints(body: MessagesRequest) -> None:
    """Drop all but the last ``MAX_BREAKPOINTS`` breakpoints of ``body``."""
    marked = [
        item
        for item in _marked(body)
        if not isinstance(getattr(item, "cache_control", UNSET), UnsetType)
    ]
    for item in marked[: max(0, len(marked) - MAX_BREAKPOINTS)]:
        item.cache_control = UNSET


__all__ = ["MAX_BREAKPOINTS", "limit_breakpoints"]
