"""``response_format`` JSON modes on Anthropic.

``json_schema`` goes to Anthropic's native structured output (``output_config``)
when the model's card says it has one (``capabilities.structured_outputs``) and the
client did not say ``strict: false`` (native output is always strict, and refuses
schema keywords it cannot enforce). Otherwise, and for ``json_object``, the answer is
asked for as the input of one extra tool (named after the schema, ``json_output``
for ``json_object``) that the model must call; the translators return that input as
the message text with ``finish_reason`` ``stop``, so the client sees an ordinary JSON
answer. With the client's own tools present the model must call one of the tools
(``any``) rather than the answer tool specifically, so it can still use them.
Anthropic forbids forced tool use while thinking, so that combination is refused on
models without native structured output.
"""

from __future__ import annotations

from typing import Any

from msgspec import UnsetType

from router_core.plugin_api import ChatRequest, InvalidRequest, ModelCard

from .reasoning import thinking_enabled
from .wire import (
    MessagesRequest,
    OutputConfigParam,
    OutputFormatParam,
    ToolChoiceParam,
    ToolParam,
)

#: The answer tool's name for ``json_object``.
JSON_OBJECT_TOOL = "json_output"
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_DESCRIPTION = "Give your final answer as this tool's input; it must match the schema."


def _schema(request: ChatRequest) -> tuple[str, dict[str, Any], str | None, bool | None] | None:
    """(tool name, schema, description, strict) of a JSON mode, or None for text."""
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    spec = fmt.json_schema
    if fmt.type == "json_object" or isinstance(spec, UnsetType):
        return JSON_OBJECT_TOOL, dict(_ANY_OBJECT), None, None
    schema = spec.schema if isinstance(spec.schema, dict) else dict(_ANY_OBJECT)
    description = spec.description if isinstance(spec.description, str) else None
    strict = spec.strict if isinstance(spec.strict, bool) else None
    return spec.name, schema, description, strict


def _native(request: ChatRequest, card: ModelCard) -> bool:
    fmt = request.response_format
    if fmt is None or fmt.type != "json_schema" or not card.capabilities.structured_outputs:
        return False
    spec = fmt.json_schema
    return isinstance(spec, UnsetType) or spec.strict is not False


def answer_tool(request: ChatRequest, card: ModelCard) -> str | None:
    """The name of the tool whose input is the answer, when this request uses one."""
    found = _schema(request)
    if found is None or _native(request, card):
        return None
    return found[0]


def apply_structured_output(body: MessagesRequest, request: ChatRequest, card: ModelCard) -> None:
    """Ask for JSON natively, or through the answer tool (module docstring)."""
    found = _schema(request)
    if found is None:
        return
    name, schema, description, _strict = found
    if _native(request, card):
        body.output_config = OutputConfigParam(format=OutputFormatParam(schema=schema))
        return
    if thinking_enabled(body):
        raise InvalidRequest(
            f"response_format: {card.id} has no native structured output, and Anthropic "
            "does not allow the forced tool call that emulates it while the model is "
            "thinking; drop reasoning or use a model with structured outputs"
        )
    if schema.get("type") != "object":
        raise InvalidRequest(
            "response_format.json_schema.schema: Anthropic needs an object schema here"
        )
    tools = [] if isinstance(body.tools, UnsetType) else body.tools
    if any(t.name == name for t in tools):
        raise InvalidRequest(f"response_format.json_schema.name: {name!r} is also a tool's name")
    body.tools = [
        *tools,
        ToolParam(name=name, input_schema=schema, description=description or _DESCRIPTION),
    ]
    choice = body.tool_choice
    if tools and not isinstance(choice, UnsetType) and choice.type in ("any", "tool"):
        return  # the client demands a tool call itself: leave its choice
    if tools and (isinstance(choice, UnsetType) or choice.type == "auto"):
        forced = ToolChoiceParam(type="any")
    else:
        forced = ToolChoiceParam(type="tool", name=name)
    if not isinstance(choice, UnsetType) and not isinstance(
        choice.disable_parallel_tool_use, UnsetType
    ):
        forced.disable_parallel_tool_use = choice.disable_parallel_tool_use
    body.tool_choice = forced


__all__ = ["JSON_OBJECT_TOOL", "answer_tool", "apply_structured_output"]
