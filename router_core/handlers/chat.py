"""POST /v1/chat/completions: the openai_chat dialect through the one pipeline."""

from __future__ import annotations

from aiohttp import web

from router_core import pipeline
from router_core.dialects.openai_chat import OPENAI_CHAT
from router_core.state import STATE


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve one chat completion (JSON or SSE), errors in ``server.error_format``."""
    fmt = request.app[STATE].settings.server.error_format
    return await pipeline.run(request, OPENAI_CHAT.with_error_format(fmt))


__all__ = ["chat_completions"]
