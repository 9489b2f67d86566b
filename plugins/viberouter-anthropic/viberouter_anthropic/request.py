"""Canonical ``ChatRequest`` -> Anthropic ``MessagesRequest`` body.

Everything Anthropic cannot honour is refused with ``InvalidRequest`` naming the
field (the core then tries the next deployment). Deliberately dropped, because
they do not change what the model generates: ``seed`` (best effort even on OpenAI,
with no guarantee to break), ``stream_options`` (Anthropic always reports usage),
``store``, ``metadata``, ``service_tier``, ``prompt_cache_key``, message ``name``,
image ``detail`` and tool ``strict``. JSON modes: ``structured.py``; reasoning:
``reasoning.py``; ``cache_control`` breakpoints: ``messages.py`` and ``caching.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import UnsetType

from router_core.plugin_api import ChatRequest, Deployment, InvalidRequest, Tool

from .caching import limit_breakpoints
from .messages import cache_param, convert_messages
from .reasoning import apply_reasoning
from .settings import AnthropicExtras
from .structured import apply_structured_output
from .wire import MessagesRequest, MetadataParam, ToolChoiceParam, ToolParam

#: Anthropic's temperature range is 0..1; OpenAI allows up to 2. We clamp rather
#: than refuse so that clients with a habitual 1.2 still get served.
MAX_TEMPERATURE = 1.0

_EMPTY_SCHEMA: dict[str, object] = {"type": "object", "properties": {}}


_Refusal = tuple[str, Callable[[ChatRequest], bool], str]

#: (field, "is it used in a way we cannot honour?", why) — checked in this order.
_REFUSALS: tuple[_Refusal, ...] = (
    ("n", lambda r: (r.n or 1) > 1, "Anthropic returns a single choice; n > 1"),
    ("logprobs", lambda r: bool(r.logprobs), "Anthropic does not return logprobs"),
    ("top_logprobs", lambda r: r.top_logprobs is not None, "no logprobs on Anthropic"),
    ("logit_bias", lambda r: bool(r.logit_bias), "Anthropic has no logit bias"),
    ("presence_penalty", lambda r: bool(r.presence_penalty), "no penalties on Anthropic"),
    ("frequency_penalty", lambda r: bool(r.frequency_penalty), "no penalties on Anthropic"),
    (
        "modalities",
        lambda r: any(m != "text" for m in r.modalities or ()),
        "Anthropic only generates text",
    ),
    ("audio", lambda r: r.audio is not None, "Anthropic only generates text"),
    ("prediction", lambda r: r.prediction is not None, "no predicted outputs on Anthropic"),
    (
        "web_search_options",
        lambda r: r.web_search_options is not None,
        "web search is not available through the Anthropic provider",
    ),
    (
        "verbosity",
        lambda r: r.verbosity not in (None, "medium"),
        "Anthropic has no verbosity control",
    ),
)


def check_supported(request: ChatRequest) -> None:
    """Raise ``InvalidRequest`` naming the first field Anthropic cannot honour."""
    for name, refused, reason in _REFUSALS:
        if refused(request):
            raise InvalidRequest(f"{name}: not supported by this model ({reason})")


def build_body(
    request: ChatRequest, deployment: Deployment, extras: AnthropicExtras | None
) -> MessagesRequest:
    """The Messages API body for ``request`` on ``deployment``."""
    check_supported(request)
    system, turns = convert_messages(request.messages)
    body = MessagesRequest(
        model=deployment.model,
        max_tokens=request.output_limit or deployment.card.max_output_tokens,
        messages=turns,
    )
    if system:
        body.system = system
    if request.tools:
        body.tools = [_tool(t) for t in request.tools]
    choice = _tool_choice(request)
    if choice is not None:
        body.tool_choice = choice
    if request.temperature is not None:
        body.temperature = min(request.temperature, MAX_TEMPERATURE)
    if request.top_p is not None:
        body.top_p = request.top_p
    if request.stop:
        body.stop_sequences = [request.stop] if isinstance(request.stop, str) else request.stop
    user = request.user or request.safety_identifier
    if user:
        body.metadata = MetadataParam(user_id=user)
    if extras is not None and extras.top_k is not None:
        body.top_k = extras.top_k
    apply_reasoning(body, request, extras, deployment.card)
    apply_structured_output(body, request, deployment.card)
    limit_breakpoints(body)
    if request.stream:
        body.stream = True
    return body


def _tool(tool: Tool) -> ToolParam:
    fn = tool.function
    schema = fn.parameters if isinstance(fn.parameters, dict) else dict(_EMPTY_SCHEMA)
    param = ToolParam(
        name=fn.name, input_schema=schema, cache_control=cache_param(tool.cache_control)
    )
    if isinstance(fn.description, str):
        param.description = fn.description
    return param


def _tool_choice(request: ChatRequest) -> ToolChoiceParam | None:
    tc = request.tool_choice
    if not request.tools:
        if tc is None or tc in ("none", "auto"):
            return None
        raise InvalidRequest("tool_choice: a tool must be chosen but no tools were given")
    choice: ToolChoiceParam
    if tc is None:
        if request.parallel_tool_calls is not False:
            return None  # Anthropic's default is auto with parallel use allowed.
        choice = ToolChoiceParam(type="auto")
    elif tc == "none":
        return ToolChoiceParam(type="none")  # "none" takes no parallel flag
    elif tc == "auto":
        choice = ToolChoiceParam(type="auto")
    elif tc == "required":
        choice = ToolChoiceParam(type="any")
    elif tc.type == "function" and not isinstance(tc.function, UnsetType):
        name = tc.function.name
        if name not in {t.function.name for t in request.tools}:
            raise InvalidRequest(f"tool_choice.function.name: no tool named {name!r}")
        choice = ToolChoiceParam(type="tool", name=name)
    else:
        raise InvalidRequest("tool_choice: allowed_tools is not supported by Anthropic")
    if request.parallel_tool_calls is not None:
        choice.disable_parallel_tool_use = not request.parallel_tool_calls
    return choice


__all__ = ["MAX_TEMPERATURE", "build_body", "check_supported"]
