"""OpenAI ``messages`` -> Gemini ``systemInstruction`` + ``contents``."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UnsetType

from router_core.plugin_api import ContentPart, ImagePart, InvalidRequest, Message, TextPart

from .reasoning import replayed_signature
from .tool_ids import decode_tool_call_id
from .wire import Blob, Content, FunctionCallData, FunctionResponseData, Part

_json = msgspec.json.Decoder()


def build_contents(messages: list[Message]) -> tuple[Content | None, list[Content]]:
    """Translate the conversation; raise ``InvalidRequest`` naming the first bad field."""
    system_parts: list[Part] = []
    contents: list[Content] = []
    names: dict[str, str] = {}  # tool-call id -> function name, from assistant turns
    tool_turn: Content | None = None  # the open user content collecting tool results
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        if msg.role in ("system", "developer"):
            # Gemini has one system instruction; later system turns join it in order.
            system_parts.extend(Part(text=t) for t in _texts(msg.content, path) if t)
            continue
        if msg.role == "tool":
            part = _function_response(msg, path, names)
            if tool_turn is None:
                tool_turn = Content(role="user", parts=[])
                contents.append(tool_turn)
            tool_turn.parts.append(part)
            continue
        tool_turn = None
        if msg.role == "user":
            parts = _user_parts(msg.content, path)
            role = "user"
        elif msg.role == "assistant":
            parts = _assistant_parts(msg, path, names)
            role = "model"
        else:
            raise InvalidRequest(
                f"{path}.role: the '{msg.role}' role is not supported by Gemini; use 'tool'",
            )
        if parts:  # Gemini rejects a content with no parts
            contents.append(Content(role=role, parts=parts))
    if not contents:
        raise InvalidRequest("messages: Gemini needs at least one user or assistant message")
    system = Content(parts=system_parts) if system_parts else None
    return system, contents


def _texts(content: str | list[ContentPart] | None, path: str) -> list[str]:
    """The text of a text-only message (system, developer, tool)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise InvalidRequest(f"{path}.content[{j}]: only text parts are allowed here")
        out.append(part.text)
    return out


def _user_parts(content: str | list[ContentPart] | None, path: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [Part(text=content)] if content else []
    parts: list[Part] = []
    for j, item in enumerate(content):
        if isinstance(item, TextPart):
            if item.text:
                parts.append(Part(text=item.text))
        else:
            parts.append(_media_part(item, f"{path}.content[{j}]"))
    return parts


def _media_part(item: ContentPart, where: str) -> Part:
    """Inline media. Only data URLs: a plugin does no I/O, so it cannot download."""
    if isinstance(item, ImagePart):
        return Part(inline_data=_data_url(item.image_url.url, f"{where}.image_url.url"))
    # plugin_api re-exports only TextPart and ImagePart; tell the rest by their tag.
    kind = _tag(item)
    if kind == "input_audio":
        audio = item.input_audio  # type: ignore[union-attr]
        return Part(inline_data=Blob(mime_type=f"audio/{audio.format}", data=audio.data))
    if kind == "file":
        file_data = item.file.file_data  # type: ignore[union-attr]
        if isinstance(file_data, str):
            return Part(inline_data=_data_url(file_data, f"{where}.file.file_data"))
        raise InvalidRequest(f"{where}.file: Gemini needs inline file_data (a data: URL)")
    raise InvalidRequest(f"{where}: '{kind}' parts are not supported by Gemini here")


def _tag(item: ContentPart) -> str:
    return str(type(item).__struct_config__.tag)


def _data_url(url: str, where: str) -> Blob:
    header, comma, data = url.partition(",")
    if not url.startswith("data:") or not comma or not header.endswith(";base64"):
        raise InvalidRequest(
            f"{where}: Gemini needs images inline as a base64 data: URL; "
            "remote URLs are not fetched by the router"
        )
    mime = header[len("data:") : -len(";base64")].split(";", 1)[0]
    if not mime:
        raise InvalidRequest(f"{where}: the data: URL has no media type")
    return Blob(mime_type=mime, data=data)


def _assistant_parts(msg: Message, path: str, names: dict[str, str]) -> list[Part]:
    parts: list[Part] = []
    if isinstance(msg.content, str):
        if msg.content:
            parts.append(Part(text=msg.content))
    elif msg.content is not None:
        for j, item in enumerate(msg.content):
            if isinstance(item, TextPart):
                text = item.text
            elif _tag(item) == "refusal":
                text = item.refusal  # type: ignore[union-attr]
            else:
                raise InvalidRequest(f"{path}.content[{j}]: only text or refusal parts here")
            if text:
                parts.append(Part(text=text))
    for k, call in enumerate(msg.tool_calls or []):
        where = f"{path}.tool_calls[{k}]"
        names[call.id] = call.function.name
        _base, signature = decode_tool_call_id(call.id)
        # The call id is not sent upstream: Gemini pairs calls and responses by order
        # and name, and some Gemini endpoints reject ids they did not issue.
        part = Part(
            function_call=FunctionCallData(
                name=call.function.name,
                args=_arguments(call.function.arguments, f"{where}.function.arguments"),
            )
        )
        if signature is not None:
            part.thought_signature = signature
        parts.append(part)
    text_signature = replayed_signature(msg)
    if text_signature is not None and parts and isinstance(parts[0].thought_signature, UnsetType):
        parts[0].thought_signature = text_signature
    return parts


def _arguments(raw: str, where: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        args = _json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"{where}: not valid JSON ({exc})") from exc
    if not isinstance(args, dict):
        raise InvalidRequest(f"{where}: must be a JSON object")
    return args


def _function_response(msg: Message, path: str, names: dict[str, str]) -> Part:
    call_id = msg.tool_call_id if isinstance(msg.tool_call_id, str) else ""
    name = names.get(call_id)
    if name is None:
        raise InvalidRequest(
            f"{path}.tool_call_id: no earlier assistant tool call has id '{call_id}'; "
            "Gemini needs the function name"
        )
    text = "".join(_texts(msg.content, path))
    return Part(function_response=FunctionResponseData(name=name, response=_response(text)))


def _response(text: str) -> dict[str, Any]:
    """Gemini wants an object: a JSON-object result as is, anything else wrapped."""
    if text.lstrip().startswith("{"):
        try:
            doc = _json.decode(text)
        except msgspec.DecodeError:
            doc = None
        if isinstance(doc, dict):
            return doc
    return {"result": text}
