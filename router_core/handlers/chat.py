"""POST /v1/chat/completions: the openai_chat dialect through the one pipeline."""

from __future__ import annotations

from aiohttp import web

from router_core import pipeline
from router_core.dialects.openai_chat import OPENAI_CHAT


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Serve one chat completion (JSON or SSE)."""
    return await pipeline.run(request, OPENAI_CHAT)


__all__ = ["chat_completions"]
