"""Responses request -> canonical ChatRequest (for every deployment that does not
speak Responses natively).

What a chat upstream cannot do is refused with 400 naming the parameter, never
dropped: built-in tools and items, OpenAI-hosted files, server-side state features.
Reasoning items are the one deliberate drop: their content is encrypted for the
upstream that minted them, so a chat upstream could not read them anyway.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET

from router_core.api.chat import (
    ChatRequest,
    ContentPart,
    FilePart,
    FileRef,
    FunctionCall,
    FunctionDef,
    ImagePart,
    ImageUrl,
    JsonSchemaSpec,
    Message,
    NamedFunction,
    ResponseFormat,
    StreamOptions,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolChoiceObject,
)
from router_core.dialects.openai_responses.errors import ResponsesInvalid
from router_core.dialects.openai_responses.wire import (
    InputFile,
    InputImage,
    InputItem,
    InputPart,
    InputText,
    OutputTextPart,
    RefusalPart,
    ResponsesRequest,
    ResponsesTool,
    TextFormat,
    ToolChoiceSpec,
)

#: Request fields that need OpenAI's server-side state or tools.
SERVER_ONLY_FIELDS = (
    "background",
    "conversation",
    "prompt",
    "context_management",
    "max_tool_calls",
)
#: Custom (freeform) tools are bridged as a function with this one string parameter.
CUSTOM_INPUT = "input"
_encode = msgspec.json.Encoder().encode
_CUSTOM_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {CUSTOM_INPUT: {"type": "string", "description": "The raw tool input"}},
    "required": [CUSTOM_INPUT],
    "additionalProperties": False,
}


def refuse_server_features(req: ResponsesRequest) -> None:
    """400 for anything only OpenAI's Responses servers can do."""
    for name in SERVER_ONLY_FIELDS:
        if getattr(req, name) not in (None, False):
            raise ResponsesInvalid(
                f"'{name}' needs OpenAI's Responses servers; the model this request was "
                "routed to cannot serve it",
                param=name,
            )
    for i, tool in enumerate(req.tools or ()):
        if tool.type not in ("function", "custom"):
            raise ResponsesInvalid(
                f"Tool type '{tool.type}' runs on OpenAI's servers and the model this request "
                "was routed to cannot run it; remove the tool or route to an OpenAI model "
                "that serves the Responses API natively",
                param=f"tools[{i}]",
            )


def to_chat_request(req: ResponsesRequest, history: list[InputItem]) -> ChatRequest:
    """The canonical request for ``req`` with ``history`` (a previous response's
    conversation, already resolved) before its own input."""
    refuse_server_features(req)
    messages: list[Message] = []
    if req.instructions:
        messages.append(Message(role="system", content=req.instructions))
    items = [*history, *_own_input(req)]
    _append_items(messages, items)
    if not messages:
        raise ResponsesInvalid("'input' is empty; send at least one message", param="input")
    return ChatRequest(
        model=req.model,
        messages=messages,
        stream=req.stream,
        stream_options=StreamOptions(include_usage=True) if req.stream else None,
        temperature=req.temperature,
        top_p=req.top_p,
        max_completion_tokens=req.max_output_tokens,
        tools=_tools(req.tools),
        tool_choice=_tool_choice(req.tool_choice),
        parallel_tool_calls=req.parallel_tool_calls,
        response_format=_response_format(req),
        verbosity=req.text.verbosity if req.text and isinstance(req.text.verbosity, str) else None,
        reasoning_effort=_effort(req),
        user=req.user,
        safety_identifier=req.safety_identifier,
        prompt_cache_key=req.prompt_cache_key,
        service_tier=req.service_tier,
        models=req.models,
        transforms=["middle-out"] if req.truncation == "auto" else None,
    )


def _own_input(req: ResponsesRequest) -> list[InputItem]:
    if isinstance(req.input, str):
        return [InputItem(role="user", content=req.input)]
    return req.input


def _effort(req: ResponsesRequest) -> str | None:
    effort = req.reasoning.effort if req.reasoning else None
    return effort if isinstance(effort, str) else None


def _append_items(messages: list[Message], items: list[InputItem]) -> None:
    for i, item in enumerate(items):
        kind = item.type
        if kind == "message":
            messages.append(_message(item, i))
        elif kind in ("function_call", "custom_tool_call"):
            _append_call(messages, item, i)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(_tool_result(item, i))
        elif kind == "reasoning":
            continue  # readable only by the upstream that minted it (module docstring)
        elif kind == "item_reference":
            raise ResponsesInvalid(
                f"Item with id '{item.id or ''}' not found.", param=f"input[{i}]", code="not_found"
            )
        else:
            raise ResponsesInvalid(
                f"Input item type '{kind}' needs OpenAI's Responses servers; the model this "
                "request was routed to cannot use it",
                param=f"input[{i}]",
            )


def _message(item: InputItem, i: int) -> Message:
    if item.role is UNSET:
        raise ResponsesInvalid("A message item needs a 'role'", param=f"input[{i}].role")
    content = item.content
    if content is UNSET:
        raise ResponsesInvalid("A message item needs 'content'", param=f"input[{i}].content")
    if item.role == "assistant":
        text = content if isinstance(content, str) else _assistant_text(content)
        return Message(role="assistant", content=text)
    if isinstance(content, str):
        return Message(role=item.role, content=content)
    parts = [_part(part, f"input[{i}].content[{j}]") for j, part in enumerate(content)]
    if item.role in ("system", "developer"):
        text = "".join(p.text for p in parts if isinstance(p, TextPart))
        if len(parts) != sum(isinstance(p, TextPart) for p in parts):
            raise ResponsesInvalid(
                "System and developer messages take text only", param=f"input[{i}].content"
            )
        return Message(role=item.role, content=text)
    return Message(role="user", content=parts)


def _assistant_text(parts: list[InputPart]) -> str:
    out = []
    for part in parts:
        if isinstance(part, (OutputTextPart, InputText)):
            out.append(part.text)
        elif isinstance(part, RefusalPart):
            out.append(part.refusal)
    return "".join(out)


def _part(part: InputPart, param: str) -> ContentPart:
    if isinstance(part, (InputText, OutputTextPart)):
        return TextPart(text=part.text)
    if isinstance(part, InputImage):
        if not part.image_url:
            raise ResponsesInvalid(
                "Images by 'file_id' need OpenAI's Files API; send 'image_url' (a URL or a "
                "data URL) instead",
                param=param,
            )
        return ImagePart(image_url=ImageUrl(url=part.image_url, detail=part.detail))
    if isinstance(part, InputFile):
        if not part.file_data:
            raise ResponsesInvalid(
                "Files by 'file_id' or 'file_url' need OpenAI's servers; send 'file_data' "
                "(a data URL) instead",
                param=param,
            )
        ref = FileRef(file_data=part.file_data)
        if part.filename:
            ref.filename = part.filename
        return FilePart(file=ref)
    raise ResponsesInvalid(
        f"This content part is not allowed here ({type(part).__name__})", param=param
    )


def _append_call(messages: list[Message], item: InputItem, i: int) -> None:
    if item.call_id is UNSET or item.name is UNSET:
        raise ResponsesInvalid(
            f"A {item.type} item needs 'call_id' and 'name'", param=f"input[{i}]"
        )
    if item.type == "custom_tool_call":
        arguments = _encode({CUSTOM_INPUT: item.input or ""}).decode()
    else:
        arguments = item.arguments if isinstance(item.arguments, str) else "{}"
    call = ToolCall(id=item.call_id, function=FunctionCall(name=item.name, arguments=arguments))
    last = messages[-1] if messages else None
    # Consecutive calls (and the text before them) are one assistant turn in chat.
    if last is not None and last.role == "assistant":
        calls = last.tool_calls if isinstance(last.tool_calls, list) else []
        last.tool_calls = [*calls, call]
        return
    messages.append(Message(role="assistant", content=None, tool_calls=[call]))


def _tool_result(item: InputItem, i: int) -> Message:
    if item.call_id is UNSET:
        raise ResponsesInvalid(f"A {item.type} item needs 'call_id'", param=f"input[{i}]")
    output = item.output
    if output is UNSET:
        output = ""
    if not isinstance(output, str):
        texts = []
        for j, part in enumerate(output):
            if not isinstance(part, (InputText, OutputTextPart)):
                raise ResponsesInvalid(
                    "Only text tool outputs can be translated for this model",
                    param=f"input[{i}].output[{j}]",
                )
            texts.append(part.text)
        output = "".join(texts)
    return Message(role="tool", content=output, tool_call_id=item.call_id)


def _tools(tools: list[ResponsesTool] | None) -> list[Tool] | None:
    if not tools:
        return None
    out = []
    for tool in tools:
        if tool.name is UNSET:
            raise ResponsesInvalid("A tool needs a 'name'", param="tools")
        fn = FunctionDef(name=tool.name)
        if isinstance(tool.description, str):
            fn.description = tool.description
        if tool.type == "custom":
            fn.parameters = _CUSTOM_PARAMETERS
        else:
            if isinstance(tool.parameters, dict):
                fn.parameters = tool.parameters
            # Responses treats an omitted `strict` as strict; keep that intent.
            fn.strict = True if tool.strict is UNSET else tool.strict
        out.append(Tool(function=fn))
    return out


def _tool_choice(choice: str | ToolChoiceSpec | None) -> ToolChoice | None:
    if choice is None or isinstance(choice, str):
        return choice  # type: ignore[return-value]  # the Literal was checked on decode
    if choice.type in ("function", "custom") and isinstance(choice.name, str):
        return ToolChoiceObject(type="function", function=NamedFunction(name=choice.name))
    if choice.type == "allowed_tools" and isinstance(choice.tools, list):
        names = [{"type": "function", "function": {"name": t.get("name")}} for t in choice.tools]
        return ToolChoiceObject(
            type="allowed_tools",
            allowed_tools={"mode": choice.mode or "auto", "tools": names},
        )
    raise ResponsesInvalid(
        f"tool_choice type '{choice.type}' is not available for this model", param="tool_choice"
    )


def _response_format(req: ResponsesRequest) -> ResponseFormat | None:
    fmt = req.text.format if req.text else None
    if not isinstance(fmt, TextFormat) or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return ResponseFormat(type="json_object")
    if not isinstance(fmt.name, str) or not isinstance(fmt.schema, dict):
        raise ResponsesInvalid(
            "text.format json_schema needs 'name' and 'schema'", param="text.format"
        )
    spec = JsonSchemaSpec(name=fmt.name, schema=fmt.schema)
    if fmt.strict is not UNSET:
        spec.strict = fmt.strict
    if isinstance(fmt.description, str):
        spec.description = fmt.description
    return ResponseFormat(type="json_schema", json_schema=spec)


__all__ = ["CUSTOM_INPUT", "refuse_server_features", "to_chat_request"]
