"""Request bodies from bytes to typed Structs: every bad input is a 400, never a 500.

msgspec turns most bad input into DecodeError / ValidationError, but not all of it:
invalid UTF-8 inside a string raises UnicodeDecodeError, and JSON nested about a
thousand levels deep raises RecursionError (how deep depends on the caller's stack).
Free-form parts (JSON schemas, tool parameters) that decode fine may still be too
deep for what handles them later (encoders, plugins), so their nesting is bounded
here too, well below any recursion limit, by a walk that never recurses itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import msgspec

from router_core.api.chat import ChatRequest
from router_core.errors import InvalidRequest

T = TypeVar("T")

#: Deepest nesting (objects and arrays) a free-form part of a request may have. A JSON
#: schema spends two levels per schema level ("properties", then the property), so
#: this allows 30-odd levels of schema, far more than any provider accepts.
MAX_FREE_FORM_DEPTH = 64


def decode_json(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    """The typed body, or 400 invalid_request saying what is wrong (the field path
    for rule violations)."""
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"Invalid request: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"Malformed JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest("Malformed JSON: a string is not valid UTF-8") from exc
    except RecursionError as exc:
        raise InvalidRequest("Malformed JSON: nested too deeply") from exc


def may_nest_deeper(body: bytes, limit: int = MAX_FREE_FORM_DEPTH) -> bool:
    """False when no value decoded from ``body`` can nest deeper than ``limit``: every
    level of nesting opens with a bracket, so a body with at most ``limit`` of them
    cannot (brackets inside strings only make the count larger). Two byte counts in C
    instead of a walk over every free-form part, for the common small request."""
    return body.count(b"{") + body.count(b"[") > limit


def check_nesting(parts: Iterable[tuple[str, object]], limit: int = MAX_FREE_FORM_DEPTH) -> None:
    """400 invalid_request when a free-form ``(path, value)`` part nests deeper than
    ``limit`` objects and arrays (callers skip it when :func:`may_nest_deeper` says
    the body cannot)."""
    for path, value in parts:
        if _deeper_than(value, limit):
            raise InvalidRequest(
                f"Invalid request: `{path}` is nested more than {limit} levels deep"
            )


def _deeper_than(value: object, limit: int) -> bool:
    # Iterative depth-first walk: a hostile value cannot exhaust the stack.
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def chat_free_form(req: ChatRequest) -> Iterator[tuple[str, object]]:
    """The free-form (``dict[str, Any]``) parts of a chat request, with their paths."""
    for i, tool in enumerate(req.tools or ()):
        yield f"$.tools[{i}].function.parameters", tool.function.parameters
    fmt = req.response_format
    if fmt is not None and not isinstance(fmt.json_schema, msgspec.UnsetType):
        yield "$.response_format.json_schema.schema", fmt.json_schema.schema
    choice = req.tool_choice
    if choice is not None and not isinstance(choice, str):
        yield "$.tool_choice.allowed_tools", choice.allowed_tools
    yield "$.audio", req.audio
    yield "$.prediction", req.prediction
    yield "$.web_search_options", req.web_search_options


def struct_parts(obj: msgspec.Struct) -> Iterator[tuple[str, object]]:
    """Every field of a Struct as a free-form part (for plugin extras, which are
    small and whose fields the core does not know)."""
    for name in obj.__struct_fields__:
        yield f"$.{name}", getattr(obj, name)


def decode_chat_request(decoder: msgspec.json.Decoder[ChatRequest], body: bytes) -> ChatRequest:
    """A chat request from its body: ``decode_json`` plus the nesting bound."""
    req = decode_json(decoder, body)
    if may_nest_deeper(body):
        check_nesting(chat_free_form(req))
    return req


__all__ = [
    "MAX_FREE_FORM_DEPTH",
    "chat_free_form",
    "check_nesting",
    "decode_chat_request",
    "decode_json",
    "may_nest_deeper",
    "struct_parts",
]
