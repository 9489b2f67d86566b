"""POST /v1/chat/completions: the openai_chat dialect through the one pipeline."""

from __future__ import annotations

from functools import partial

from router_core import pipeline
from router_core.dialects.openai_chat import OPENAI_CHAT

#: Serve one chat completion (JSON or SSE), errors in ``server.error_format`` (or the
#: key's). The pipeline itself, without a handler coroutine around it: an open stream
#: keeps every coroutine frame of its handler chain (about 0.25 KB each) until it ends.
chat_completions = partial(pipeline.run, dialect=OPENAI_CHAT)


__all__ = ["chat_completions"]
