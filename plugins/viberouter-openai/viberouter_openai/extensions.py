"""Router extensions an OpenAI-compatible upstream may not know, removed or mapped.

The canonical request carries OpenRouter / LiteLLM extensions: ``cache_control``
breakpoints (on messages, content parts and tools), reasoning sent back on assistant
turns (``reasoning_content``, ``reasoning``, ``reasoning_details``,
``thinking_blocks``) and the ``reasoning`` object. OpenAI answers 400 to fields it
does not know, DeepSeek to ``reasoning_content`` sent back, and both cache prompts
by themselves, so by default these are removed and ``reasoning.effort`` becomes
``reasoning_effort``. ``forward_extensions = true`` (for an OpenRouter or LiteLLM
upstream, which understand them) sends them unchanged. A request without any of
them is returned as is, so the common case costs one scan and no copies.
"""

from __future__ import annotations

from msgspec import UNSET, UnsetType, structs

from router_core.plugin_api import ChatRequest, Message, Tool

_MESSAGE_EXTRAS = (
    "cache_control",
    "reasoning_content",
    "reasoning",
    "reasoning_details",
    "thinking_blocks",
)


def _message_marked(message: Message) -> bool:
    # the names of _MESSAGE_EXTRAS spelled out: this runs for every message of every
    # request, and a generator over getattr costs several times more
    if (
        message.cache_control is not UNSET
        or message.reasoning_content is not UNSET
        or message.reasoning is not UNSET
        or message.reasoning_details is not UNSET
        or message.thinking_blocks is not UNSET
    ):
        return True
    content = message.content
    return isinstance(content, list) and any(
        getattr(part, "cache_control", UNSET) is not UNSET for part in content
    )


def _plain_message(message: Message) -> Message:
    content = message.content
    if isinstance(content, list):
        content = [
            structs.replace(part, cache_control=UNSET)
            if getattr(part, "cache_control", UNSET) is not UNSET
            else part
            for part in content
        ]
    cleared: dict[str, object] = dict.fromkeys(_MESSAGE_EXTRAS, UNSET)
    return structs.replace(message, content=content, **cleared)


def _plain_tools(tools: list[Tool] | None) -> list[Tool] | None:
    if tools is None or all(isinstance(t.cache_control, UnsetType) for t in tools):
        return tools
    return [structs.replace(t, cache_control=UNSET) for t in tools]


def without_extensions(request: ChatRequest) -> ChatRequest:
    """``request`` with the extensions removed (the module docstring)."""
    marked = [i for i, m in enumerate(request.messages) if _message_marked(m)]
    tools = _plain_tools(request.tools)
    if not marked and tools is request.tools and request.reasoning is None:
        return request
    messages = list(request.messages)
    for i in marked:
        messages[i] = _plain_message(messages[i])
    effort = request.reasoning_effort
    if effort is None and request.reasoning is not None:
        effort = request.reasoning.effort
    return structs.replace(
        request, messages=messages, tools=tools, reasoning=None, reasoning_effort=effort
    )


__all__ = ["without_extensions"]
