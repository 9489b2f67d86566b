"""``MessagesRequest`` -> the canonical chat request, for deployments that do not
speak the Messages API natively.

What has a canonical equivalent is carried; what does not is refused with
``InvalidRequest`` naming the field (``strict``), never dropped. Deliberately left
behind, because they steer Anthropic's servers rather than the answer and other
providers have nothing to apply them to: ``cache_control`` (other providers cache
automatically), ``context_management``, ``service_tier`` and thinking blocks of
earlier turns (a signature is only valid for the upstream that minted it).

``strict=False`` is for native pass-through, where the translation only feeds the
context estimate and the content filters and is never sent: blocks without a
canonical form then contribute their text, or nothing, instead of refusing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

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
from router_core.dialects.anthropic_messages.wire import (
    Block,
    MessageParam,
    MessagesRequest,
    OutputFormat,
    Source,
    ToolChoiceParam,
    ToolParam,
)
from router_core.errors import InvalidRequest

#: Most stop sequences the canonical form (OpenAI's limit) carries.
MAX_STOP_SEQUENCES = 4
#: ``thinking.budget_tokens`` below these map to reasoning effort low / medium; above, high.
EFFORT_BUDGETS = ((4096, "low"), (16384, "medium"))
#: ``output_config.effort`` -> the canonical ``reasoning_effort``.
EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}
#: Name the canonical json_schema response format gets (Anthropic's has none).
SCHEMA_NAME = "output"

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_json = msgspec.json.Encoder()
_NATIVE_ONLY = "can only be sent to an Anthropic deployment"


@dataclass(slots=True)
class Translated:
    """The canonical request and the fields beyond the OpenAI API (``top_k``,
    ``include_thoughts``) that plugins declaring them as ``extra_params`` read."""

    request: ChatRequest
    extras: dict[str, Any] = field(default_factory=dict)

    def body(self) -> bytes:
        """The canonical JSON body, extras included (what extras decoders read)."""
        raw = _json.encode(self.request)
        if not self.extras:
            return raw
        return raw[:-1] + b"," + _json.encode(self.extras)[1:]


def to_chat(req: MessagesRequest, *, strict: bool = True) -> Translated:
    """The canonical form of ``req``; raises ``InvalidRequest`` naming the first field
    that has none (only when ``strict``)."""
    if strict:
        for name in ("container", "mcp_servers"):
            if getattr(req, name) is not UNSET:
                raise InvalidRequest(f"{name}: {_NATIVE_ONLY}")
    messages = _system(req.system, strict)
    for i, turn in enumerate(req.messages):
        messages.extend(_turn(turn, f"messages.{i}", strict))
    if not messages:
        raise InvalidRequest("messages: at least one message with content is required")
    chat = ChatRequest(model=req.model, messages=messages, stream=req.stream)
    if req.stream:
        chat.stream_options = StreamOptions(include_usage=True)
    if not isinstance(req.max_tokens, UnsetType):
        chat.max_tokens = req.max_tokens
    _sampling(req, chat)
    _tools(req, chat, strict)
    chat.reasoning_effort = _reasoning_effort(req)
    chat.response_format = _response_format(req)
    extras: dict[str, Any] = {}
    if not isinstance(req.top_k, UnsetType):
        extras["top_k"] = req.top_k
    if chat.reasoning_effort is not None:
        extras["include_thoughts"] = True  # so Gemini returns thinking for thinking blocks
    return Translated(chat, extras)


def _sampling(req: MessagesRequest, chat: ChatRequest) -> None:
    if not isinstance(req.temperature, UnsetType):
        chat.temperature = req.temperature
    if not isinstance(req.top_p, UnsetType):
        chat.top_p = req.top_p
    if not isinstance(req.stop_sequences, UnsetType) and req.stop_sequences:
        if len(req.stop_sequences) > MAX_STOP_SEQUENCES:
            raise InvalidRequest(
                f"stop_sequences: at most {MAX_STOP_SEQUENCES} can be sent to this model"
            )
        chat.stop = list(req.stop_sequences)
    if not isinstance(req.metadata, UnsetType) and isinstance(req.metadata.user_id, str):
        chat.user = req.metadata.user_id


# ---------------------------------------------------------------- messages


def _system(system: str | list[Block] | UnsetType, strict: bool) -> list[Message]:
    if isinstance(system, UnsetType) or not system:
        return []
    if isinstance(system, str):
        return [Message(role="system", content=system)]
    parts: list[ContentPart] = []
    for j, block in enumerate(system):
        if block.type != "text" and strict:
            raise InvalidRequest(f"system.{j}.type: only text blocks are allowed in system")
        if isinstance(block.text, str) and block.text:
            parts.append(TextPart(text=block.text))
    return [Message(role="system", content=_collapse(parts))] if parts else []


def _turn(turn: MessageParam, path: str, strict: bool) -> list[Message]:
    if isinstance(turn.content, str):
        return [Message(role=turn.role, content=turn.content)]
    if turn.role == "assistant":
        return _assistant(turn.content, path, strict)
    # Tool results answer the previous assistant turn: they come first, as tool
    # messages, and whatever else the user sent follows as one user message.
    out: list[Message] = []
    parts: list[ContentPart] = []
    for j, block in enumerate(turn.content):
        where = f"{path}.content.{j}"
        if block.type == "tool_result":
            out.append(_tool_result(block, where, strict))
        else:
            parts.extend(_part(block, where, strict))
    if parts:
        out.append(Message(role="user", content=_collapse(parts)))
    return out


def _assistant(blocks: list[Block], path: str, strict: bool) -> list[Message]:
    text: list[str] = []
    calls: list[ToolCall] = []
    for j, block in enumerate(blocks):
        if block.type == "text":
            text.append(block.text if isinstance(block.text, str) else "")
        elif block.type == "tool_use":
            calls.append(_tool_call(block, f"{path}.content.{j}"))
        elif block.type in ("thinking", "redacted_thinking"):
            continue  # signed by the upstream that minted it; meaningless elsewhere
        elif strict:
            raise InvalidRequest(f"{path}.content.{j}.type: {block.type!r} blocks {_NATIVE_ONLY}")
    joined = "".join(text)
    if not joined and not calls:
        return []
    msg = Message(role="assistant", content=joined or None)
    if calls:
        msg.tool_calls = calls
    return [msg]


def _tool_call(block: Block, path: str) -> ToolCall:
    if not isinstance(block.id, str) or not isinstance(block.name, str):
        raise InvalidRequest(f"{path}: tool_use blocks need an id and a name")
    args = block.input if isinstance(block.input, dict) else {}
    return ToolCall(
        id=block.id,
        function=FunctionCall(name=block.name, arguments=_json.encode(args).decode()),
    )


def _tool_result(block: Block, path: str, strict: bool) -> Message:
    if not isinstance(block.tool_use_id, str):
        raise InvalidRequest(f"{path}.tool_use_id: Field required")
    content: str | list[ContentPart]
    if isinstance(block.content, list):
        parts: list[ContentPart] = []
        for k, inner in enumerate(block.content):
            parts.extend(_part(inner, f"{path}.content.{k}", strict))
        content = _collapse(parts) if parts else ""
    else:
        content = block.content if isinstance(block.content, str) else ""
    if block.is_error is True:
        # The canonical tool message has no error flag: say it in the content.
        if isinstance(content, str):
            content = f"Error: {content}" if content else "Error"
        else:
            content = [TextPart(text="Error:"), *content]
    return Message(role="tool", tool_call_id=block.tool_use_id, content=content)


def _part(block: Block, path: str, strict: bool) -> list[ContentPart]:
    if block.type == "text":
        return [TextPart(text=block.text)] if isinstance(block.text, str) and block.text else []
    if block.type == "image" and isinstance(block.source, Source):
        return _image(block.source, f"{path}.source", strict)
    if block.type == "document" and isinstance(block.source, Source):
        return _document(block, f"{path}.source", strict)
    if strict:
        raise InvalidRequest(f"{path}.type: {block.type!r} blocks {_NATIVE_ONLY}")
    return [TextPart(text=block.text)] if isinstance(block.text, str) and block.text else []


def _image(source: Source, path: str, strict: bool) -> list[ContentPart]:
    if source.type == "base64" and isinstance(source.data, str):
        media = source.media_type if isinstance(source.media_type, str) else "image/png"
        return [ImagePart(image_url=ImageUrl(url=f"data:{media};base64,{source.data}"))]
    if source.type == "url" and isinstance(source.url, str):
        return [ImagePart(image_url=ImageUrl(url=source.url))]
    if strict:
        raise InvalidRequest(f"{path}.type: {source.type!r} image sources {_NATIVE_ONLY}")
    return []


def _document(block: Block, path: str, strict: bool) -> list[ContentPart]:
    source = block.source
    assert isinstance(source, Source)
    if source.type == "text" and isinstance(source.data, str):
        return [TextPart(text=source.data)] if source.data else []
    if source.type == "base64" and isinstance(source.data, str):
        media = source.media_type if isinstance(source.media_type, str) else "application/pdf"
        name = block.title if isinstance(block.title, str) and block.title else "document.pdf"
        ref = FileRef(filename=name, file_data=f"data:{media};base64,{source.data}")
        return [FilePart(file=ref)]
    if strict:
        raise InvalidRequest(f"{path}.type: {source.type!r} document sources {_NATIVE_ONLY}")
    return []


def _collapse(parts: list[ContentPart]) -> str | list[ContentPart]:
    """One text part is plain content (what every provider takes)."""
    if len(parts) == 1 and isinstance(parts[0], TextPart):
        return parts[0].text
    return parts


# ---------------------------------------------------------------- tools, reasoning


def _tools(req: MessagesRequest, chat: ChatRequest, strict: bool) -> None:
    tools = [] if isinstance(req.tools, UnsetType) else req.tools
    chat_tools = [t for i, tool in enumerate(tools) if (t := _tool(tool, i, strict)) is not None]
    if chat_tools:
        chat.tools = chat_tools
    if isinstance(req.tool_choice, ToolChoiceParam):
        chat.tool_choice = _tool_choice(req.tool_choice, {t.function.name for t in chat_tools})
        if req.tool_choice.disable_parallel_tool_use is True and chat_tools:
            chat.parallel_tool_calls = False


def _tool(tool: ToolParam, i: int, strict: bool) -> Tool | None:
    if tool.type not in (UNSET, None, "custom"):
        if strict:
            raise InvalidRequest(
                f"tools.{i}.type: the server tool {tool.type!r} runs on Anthropic's "
                f"servers and {_NATIVE_ONLY}"
            )
        return None
    schema = tool.input_schema if isinstance(tool.input_schema, dict) else dict(_EMPTY_SCHEMA)
    fn = FunctionDef(name=tool.name, parameters=schema)
    if isinstance(tool.description, str):
        fn.description = tool.description
    if isinstance(tool.strict, bool):
        fn.strict = tool.strict
    return Tool(function=fn)


def _tool_choice(choice: ToolChoiceParam, names: set[str]) -> ToolChoice | None:
    if choice.type == "auto":
        return "auto" if names else None
    if choice.type == "none":
        return "none" if names else None
    if not names:
        raise InvalidRequest("tool_choice.type: a tool must be used but no tools were given")
    if choice.type == "any":
        return "required"
    if not isinstance(choice.name, str) or choice.name not in names:
        raise InvalidRequest(f"tool_choice.name: no tool named {choice.name!r}")
    return ToolChoiceObject(type="function", function=NamedFunction(name=choice.name))


def _reasoning_effort(req: MessagesRequest) -> str | None:
    effort: str | None = None
    if not isinstance(req.output_config, UnsetType) and isinstance(req.output_config.effort, str):
        effort = EFFORTS.get(req.output_config.effort)
        if effort is None:
            raise InvalidRequest(
                f"output_config.effort: {req.output_config.effort!r} is not one of "
                f"{', '.join(EFFORTS)}"
            )
    thinking = req.thinking
    if isinstance(thinking, UnsetType) or thinking.type == "disabled":
        return effort
    if thinking.type == "adaptive":
        return effort or "medium"
    if isinstance(thinking.budget_tokens, UnsetType):
        raise InvalidRequest("thinking.budget_tokens: Field required")
    budget = thinking.budget_tokens
    if not isinstance(req.max_tokens, UnsetType) and budget >= req.max_tokens:
        raise InvalidRequest("thinking.budget_tokens: must be less than max_tokens")
    if effort is not None:
        return effort
    return next((name for limit, name in EFFORT_BUDGETS if budget < limit), "high")


def _response_format(req: MessagesRequest) -> ResponseFormat | None:
    fmt: OutputFormat | None = None
    where = "output_config.format"
    if not isinstance(req.output_config, UnsetType) and isinstance(
        req.output_config.format, OutputFormat
    ):
        fmt = req.output_config.format
    elif isinstance(req.output_format, OutputFormat):
        fmt, where = req.output_format, "output_format"
    if fmt is None:
        return None
    if fmt.type != "json_schema" or not isinstance(fmt.schema, dict):
        raise InvalidRequest(f"{where}.type: only json_schema with a schema can be translated")
    spec = JsonSchemaSpec(name=SCHEMA_NAME, schema=fmt.schema, strict=True)
    return ResponseFormat(type="json_schema", json_schema=spec)


__all__ = ["EFFORTS", "EFFORT_BUDGETS", "MAX_STOP_SEQUENCES", "Translated", "to_chat"]
