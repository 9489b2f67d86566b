"""OpenAI ``messages`` -> Anthropic ``system`` + strictly alternating turns.

Rules (wire-formats §3.2): system/developer messages anywhere are hoisted into the
top-level ``system``; tool messages become ``tool_result`` blocks of a user turn;
consecutive same-role turns are merged, and in a user turn the ``tool_result``
blocks come first because Anthropic requires them to open the turn that follows
the ``tool_use``. Empty text is never sent.

Prompt caching: a ``cache_control`` on a content part goes on its block, one on a
message goes on the message's last block (LiteLLM's rule), each with its ``ttl``.
Reasoning sent back on an assistant turn (OpenRouter's ``reasoning_details``, or
LiteLLM's ``thinking_blocks``) is rebuilt as signed ``thinking`` /
``redacted_thinking`` blocks at the start of the turn, where Anthropic requires them
in a tool loop; unsigned text and other providers' signatures are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from router_core.plugin_api import (
    CacheControl,
    ContentPart,
    ImagePart,
    InvalidRequest,
    Message,
    ReasoningDetail,
    TextPart,
)

from .wire import (
    Base64Source,
    CacheControlParam,
    ImageBlock,
    MessageParam,
    RedactedThinkingBlockParam,
    RequestBlock,
    TextBlock,
    ThinkingBlockParam,
    ToolResultBlock,
    ToolUseBlock,
    UrlSource,
)

#: The ``format`` of reasoning details this provider minted (OpenRouter's name).
REASONING_FORMAT = "anthropic-claude-v1"

_IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_BASE64_MARKER = ";base64"
_arguments_decoder = msgspec.json.Decoder(dict[str, Any])

TurnRole = Literal["user", "assistant"]


def convert_messages(messages: Sequence[Message]) -> tuple[list[TextBlock], list[MessageParam]]:
    """Split a conversation into Anthropic's ``system`` blocks and ``messages`` turns.

    Raises ``InvalidRequest`` naming the field for content Anthropic cannot take.
    """
    system: list[TextBlock] = []
    turns: list[MessageParam] = []
    for i, msg in enumerate(messages):
        path = f"messages[{i}]"
        role: TurnRole
        if msg.role in ("system", "developer"):
            system.extend(_with_breakpoint(_text_blocks(msg.content, path), msg.cache_control))
            continue
        if msg.role == "user":
            role, blocks = "user", _content_blocks(msg.content, path, images=True)
        elif msg.role == "assistant":
            role, blocks = "assistant", _assistant_blocks(msg, path)
        elif msg.role == "tool":
            role, blocks = "user", [_tool_result(msg, path)]
        else:
            raise InvalidRequest(
                f"{path}.role: legacy 'function' messages are not supported by Anthropic; "
                "use tool messages"
            )
        blocks = _with_breakpoint(blocks, msg.cache_control)
        # A turn with nothing in it carries no information; Anthropic rejects it.
        if blocks:
            _append_turn(turns, role, blocks)
    if not turns:
        raise InvalidRequest("messages: Anthropic needs at least one non-system message")
    if turns[0].role != "user":
        raise InvalidRequest(
            "messages: Anthropic requires the conversation to start with a user message"
        )
    return system, turns


def _append_turn(turns: list[MessageParam], role: TurnRole, blocks: list[RequestBlock]) -> None:
    if turns and turns[-1].role == role:
        merged = turns[-1].content + blocks
    else:
        merged = blocks
        turns.append(MessageParam(role=role, content=merged))
    if role == "user":
        # Stable partition: tool results open the turn, user text follows them.
        merged = [b for b in merged if isinstance(b, ToolResultBlock)] + [
            b for b in merged if not isinstance(b, ToolResultBlock)
        ]
    turns[-1].content = merged


def cache_param(cache: CacheControl | UnsetType) -> CacheControlParam | UnsetType:
    """A canonical breakpoint as Anthropic's, ``ttl`` kept."""
    if isinstance(cache, UnsetType):
        return UNSET
    return CacheControlParam(ttl=cache.ttl)


_B = TypeVar("_B", bound=RequestBlock)


def _with_breakpoint(blocks: list[_B], cache: CacheControl | UnsetType) -> list[_B]:
    last = blocks[-1] if blocks else None
    if not isinstance(cache, UnsetType) and last is not None and hasattr(last, "cache_control"):
        last.cache_control = cache_param(cache)
    return blocks


def _text_blocks(content: str | list[ContentPart] | None, path: str) -> list[TextBlock]:
    blocks = _content_blocks(content, path)
    return [b for b in blocks if isinstance(b, TextBlock)]


def _part_type(part: ContentPart) -> str:
    # plugin_api re-exports only TextPart/ImagePart; the tag names the other kinds.
    return str(type(part).__struct_config__.tag)


def _content_blocks(
    content: str | list[ContentPart] | None,
    path: str,
    *,
    images: bool = False,
    refusals: bool = False,
) -> list[RequestBlock]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextBlock(text=content)] if content else []
    blocks: list[RequestBlock] = []
    for j, part in enumerate(content):
        part_path = f"{path}.content[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks.append(
                    TextBlock(text=part.text, cache_control=cache_param(part.cache_control))
                )
        elif isinstance(part, ImagePart) and images:
            image = _image_block(part, part_path)
            image.cache_control = cache_param(part.cache_control)
            blocks.append(image)
        elif refusals and _part_type(part) == "refusal":
            # Assistant history may hold refusal parts; Anthropic only knows text.
            refusal: str = getattr(part, "refusal", "")
            if refusal:
                blocks.append(TextBlock(text=refusal))
        else:
            raise InvalidRequest(
                f"{part_path}: content parts of type {_part_type(part)!r} are not "
                "supported here by the Anthropic provider"
            )
    return blocks


def _image_block(part: ImagePart, path: str) -> ImageBlock:
    url = part.image_url.url
    if url.startswith("data:"):
        header, comma, data = url[5:].partition(",")
        media_type = header.removesuffix(_BASE64_MARKER)
        if not comma or not header.endswith(_BASE64_MARKER) or not data:
            raise InvalidRequest(
                f"{path}.image_url.url: data URLs must be 'data:<mime>;base64,<data>'"
            )
        if media_type not in _IMAGE_MEDIA_TYPES:
            raise InvalidRequest(
                f"{path}.image_url.url: image type {media_type!r} is not supported by "
                f"Anthropic (use one of {', '.join(sorted(_IMAGE_MEDIA_TYPES))})"
            )
        return ImageBlock(source=Base64Source(media_type=media_type, data=data))
    if url.startswith(("https://", "http://")):
        return ImageBlock(source=UrlSource(url=url))
    raise InvalidRequest(f"{path}.image_url.url: only data: and http(s): URLs are supported")


def _assistant_blocks(msg: Message, path: str) -> list[RequestBlock]:
    blocks: list[RequestBlock] = [*replayed_thinking(msg)]
    blocks += _content_blocks(msg.content, path, refusals=True)
    if not blocks and isinstance(msg.refusal, str) and msg.refusal:
        blocks.append(TextBlock(text=msg.refusal))
    if isinstance(msg.tool_calls, list):
        for j, call in enumerate(msg.tool_calls):
            arg_path = f"{path}.tool_calls[{j}].function.arguments"
            blocks.append(
                ToolUseBlock(
                    id=call.id,
                    name=call.function.name,
                    input=_parse_arguments(call.function.arguments, arg_path),
                )
            )
    return blocks


def replayed_thinking(msg: Message) -> list[ThinkingBlockParam | RedactedThinkingBlockParam]:
    """The signed thinking of an assistant turn sent back, in its original order."""
    if isinstance(msg.reasoning_details, list):
        return _from_details(msg.reasoning_details)
    out: list[ThinkingBlockParam | RedactedThinkingBlockParam] = []
    for block in msg.thinking_blocks if isinstance(msg.thinking_blocks, list) else ():
        if block.type == "thinking" and block.signature and isinstance(block.thinking, str):
            out.append(ThinkingBlockParam(thinking=block.thinking, signature=block.signature))
        elif block.type == "redacted_thinking" and block.data:
            out.append(RedactedThinkingBlockParam(data=str(block.data)))
    return out


def _from_details(
    details: list[ReasoningDetail],
) -> list[ThinkingBlockParam | RedactedThinkingBlockParam]:
    # Entries sharing an index are one block's stream deltas that the client kept
    # unmerged: merge them (text joined, the signature that came last).
    merged: dict[object, list[str]] = {}  # key -> [type, text, signature, data]
    for n, d in enumerate(details):
        if d.format not in (None, UNSET, REASONING_FORMAT):
            continue  # another provider's signature: Anthropic would reject it
        key = d.index if isinstance(d.index, int) else ("pos", n)
        entry = merged.setdefault(key, [d.type, "", "", ""])
        entry[1] += d.text if isinstance(d.text, str) else ""
        entry[2] = d.signature if isinstance(d.signature, str) and d.signature else entry[2]
        entry[3] += d.data if isinstance(d.data, str) else ""
    out: list[ThinkingBlockParam | RedactedThinkingBlockParam] = []
    for kind, text, signature, data in merged.values():
        if kind == "reasoning.text" and signature:
            out.append(ThinkingBlockParam(thinking=text, signature=signature))
        elif kind == "reasoning.encrypted" and data:
            out.append(RedactedThinkingBlockParam(data=data))
    return out


def _parse_arguments(arguments: str, path: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        return _arguments_decoder.decode(arguments)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidRequest(
            f"{path}: tool call arguments must be a JSON object", detail=str(exc)
        ) from exc


def _tool_result(msg: Message, path: str) -> ToolResultBlock:
    if not isinstance(msg.tool_call_id, str) or not msg.tool_call_id:
        raise InvalidRequest(f"{path}.tool_call_id: tool messages need a tool_call_id")
    block = ToolResultBlock(tool_use_id=msg.tool_call_id)
    if isinstance(msg.content, str):
        if msg.content:
            block.content = msg.content
    else:
        parts = _content_blocks(msg.content, path, images=True)
        nested = [b for b in parts if isinstance(b, TextBlock | ImageBlock)]
        if nested:
            block.content = nested
    return block


__all__ = ["REASONING_FORMAT", "cache_param", "convert_messages", "replayed_thinking"]
