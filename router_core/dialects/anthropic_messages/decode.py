"""Client bytes -> ``MessagesRequest``, with Anthropic-style field paths in errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from router_core.api.decoding import check_nesting, may_nest_deeper
from router_core.dialects.anthropic_messages.wire import (
    Block,
    MessagesRequest,
    OutputFormat,
    Source,
)
from router_core.errors import InvalidRequest

_decoder = msgspec.json.Decoder(MessagesRequest)


def field_path(message: str) -> str:
    """msgspec's ``Expected ... - at `$.messages[0].role``` as Anthropic words it:
    ``messages.0.role: Expected ...``."""
    text, sep, where = message.rpartition(" - at `")
    if not sep:
        return message
    path = where.rstrip("`").removeprefix("$").lstrip(".")
    path = path.replace("[", ".").replace("]", "")
    return f"{path}: {text}" if path else text


def _blocks(blocks: Iterable[Block], path: str) -> Iterator[tuple[str, object]]:
    for j, block in enumerate(blocks):
        where = f"{path}.{j}"
        yield f"{where}.input", block.input
        yield f"{where}.citations", block.citations
        if isinstance(block.source, Source):
            yield f"{where}.source.content", block.source.content
        if isinstance(block.content, list):
            yield from _blocks(block.content, f"{where}.content")


def free_form(req: MessagesRequest) -> Iterator[tuple[str, object]]:
    """The free-form parts of a request (schemas, tool inputs, pass-through objects),
    with their paths, for the nesting bound every request body gets."""
    for i, tool in enumerate(() if isinstance(req.tools, msgspec.UnsetType) else req.tools):
        yield f"tools.{i}.input_schema", tool.input_schema
    for name in ("context_management", "container", "mcp_servers"):
        yield name, getattr(req, name)
    for fmt, where in (
        (req.output_format, "output_format"),
        (_config_format(req), "output_config"),
    ):
        if isinstance(fmt, OutputFormat):
            yield f"{where}.schema", fmt.schema
    if isinstance(req.system, list):
        yield from _blocks(req.system, "system")
    for i, turn in enumerate(req.messages):
        if isinstance(turn.content, list):
            yield from _blocks(turn.content, f"messages.{i}.content")


def _config_format(req: MessagesRequest) -> object:
    return None if isinstance(req.output_config, msgspec.UnsetType) else req.output_config.format


def decode_messages(body: bytes, *, count_tokens: bool = False) -> MessagesRequest:
    """The typed request, or 400 ``invalid_request`` naming the field.

    ``count_tokens`` bodies carry no ``max_tokens``; ``/v1/messages`` requires it.
    """
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        req = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(field_path(str(exc))) from exc
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"There was an issue with the JSON body: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRequest("There was an issue with the JSON body: invalid UTF-8") from exc
    except RecursionError as exc:
        raise InvalidRequest("There was an issue with the JSON body: nested too deeply") from exc
    if may_nest_deeper(body):
        check_nesting(free_form(req))
    if not count_tokens and isinstance(req.max_tokens, msgspec.UnsetType):
        raise InvalidRequest("max_tokens: Field required")
    if not req.messages:
        raise InvalidRequest("messages: at least one message is required")
    return req


__all__ = ["decode_messages", "field_path", "free_form"]
