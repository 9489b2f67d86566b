"""VibeRouter's OpenAI-compatible provider (entry point ``openai`` in ``viberouter.providers``)."""

from viberouter_openai.provider import OpenAIProvider
from viberouter_openai.settings import OpenAIExtras, OpenAISettings

__all__ = ["OpenAIExtras", "OpenAIProvider", "OpenAISettings"]
