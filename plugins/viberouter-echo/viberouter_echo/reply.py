"""Decide, deterministically, what the echo model answers to a request.

The plan is independent of the wire format: ``wire`` renders it as one completion or
as a stream of chunks, so streamed and non-streamed answers always agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from router_core.plugin_api import ChatRequest, Message, TextPart, Tool, json_encode
from viberouter_echo.directives import Directives, parse_directives
from viberouter_echo.schema_values import sample_value

# A word with the whitespace around it; leading whitespace sticks to the first word.
_TOKEN = re.compile(r"\s*\S+\s*|\s+")
_PUNCTUATION = ".,!?;:\"'()[]{}<>`"
_DEFAULT_WORD = "echo"
_EMPTY_REPLY = "echo"
# Argument JSON is streamed in about this many fragments, like a real model would.
_ARGUMENT_FRAGMENTS = 4


@dataclass(frozen=True, slots=True)
class PlannedCall:
    """One tool call; ``"".join(fragments)`` is its JSON ``arguments`` string."""

    id: str
    name: str
    fragments: list[str]

    @property
    def arguments(self) -> str:
        """The complete arguments JSON text."""
        return "".join(self.fragments)


@dataclass(frozen=True, slots=True)
class ReplyPlan:
    """Everything the fake upstream needs to answer, for each of ``n`` identical choices."""

    directives: Directives
    tokens: list[str]
    tool_calls: list[PlannedCall]
    finish_reason: Literal["stop", "length", "tool_calls"]
    prompt_tokens: int
    n: int

    @property
    def content(self) -> str | None:
        """The whole reply text (``None`` for a tool-call answer)."""
        return None if self.tool_calls else "".join(self.tokens)

    @property
    def completion_tokens(self) -> int:
        """Streamed tokens over all choices (argument fragments count as tokens)."""
        per_choice = sum(len(c.fragments) for c in self.tool_calls) or len(self.tokens)
        return per_choice * self.n


def plan_reply(request: ChatRequest) -> ReplyPlan:
    """The echo model's answer to ``request``."""
    user_text = next((message_text(m) for m in reversed(request.messages) if m.role == "user"), "")
    directives, cleaned = parse_directives(user_text)
    n = request.n or 1
    prompt_tokens = sum(_message_tokens(m) for m in request.messages)
    last = request.messages[-1]
    calls: list[PlannedCall] = []
    if last.role != "tool":
        # After a tool result the echo always answers in text, so a client loop with
        # tool_choice="required" still terminates.
        calls = [
            _planned_call(tool, i, cleaned, len(request.messages))
            for i, tool in enumerate(_tools_to_call(request, cleaned))
        ]
    if calls:
        return ReplyPlan(directives, [], calls, "tool_calls", prompt_tokens, n)
    text = _reply_text(request, cleaned)
    text = _apply_stop(text, request.stop)
    tokens = tokenize(text)
    finish: Literal["stop", "length"] = "stop"
    limit = request.output_limit
    if limit is not None and len(tokens) > limit:
        tokens, finish = tokens[:limit], "length"
    return ReplyPlan(directives, tokens, [], finish, prompt_tokens, n)


def tokenize(text: str) -> list[str]:
    """Split on whitespace boundaries, keeping the whitespace, so tokens join back to ``text``."""
    return _TOKEN.findall(text)


def message_text(message: Message) -> str:
    """The text of a message's content (text parts joined by newlines)."""
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


def _message_tokens(message: Message) -> int:
    # A rough 4-characters-per-token count plus a per-message overhead, like tokenizers.
    text = message_text(message)
    if not isinstance(message.tool_calls, msgspec.UnsetType):
        text += "".join(c.function.name + c.function.arguments for c in message.tool_calls)
    return 3 + (len(text) + 3) // 4


def _tools_to_call(request: ChatRequest, text: str) -> list[Tool]:
    tools = request.tools or []
    choice = request.tool_choice
    if not tools or choice == "none":
        return []
    candidates = tools
    force = choice == "required"
    if choice is not None and not isinstance(choice, str):
        if choice.type == "function":
            if isinstance(choice.function, msgspec.UnsetType):
                return []
            wanted = choice.function.name
            return [t for t in tools if t.function.name == wanted][:1]
        allowed = choice.allowed_tools
        if not isinstance(allowed, msgspec.UnsetType):
            names = _allowed_names(allowed)
            candidates = [t for t in tools if t.function.name in names]
            force = allowed.get("mode") == "required"
    lowered = text.lower()
    mentioned = [t for t in candidates if t.function.name.lower() in lowered]
    if mentioned:
        return mentioned if request.parallel_tool_calls is not False else mentioned[:1]
    return candidates[:1] if force else []


def _allowed_names(allowed: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    entries = allowed.get("tools")
    for entry in entries if isinstance(entries, list) else []:
        function = entry.get("function") if isinstance(entry, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if isinstance(name, str):
            names.add(name)
    return names


def _planned_call(tool: Tool, position: int, text: str, turn: int) -> PlannedCall:
    params = tool.function.parameters
    schema: Any = {} if isinstance(params, msgspec.UnsetType) else params
    value = sample_value(schema, _pick_word(text, tool.function.name)) if schema else {}
    if not isinstance(value, dict):
        # A tool's arguments are always a JSON object, whatever the schema says.
        value = {}
    arguments = json_encode(value).decode()
    size = max(1, -(-len(arguments) // _ARGUMENT_FRAGMENTS))
    fragments = [arguments[i : i + size] for i in range(0, len(arguments), size)]
    # Ids are deterministic yet differ between turns of one conversation.
    return PlannedCall(f"call_echo_{turn}_{position}", tool.function.name, fragments)


def _pick_word(text: str, tool_name: str) -> str:
    """The last capitalised word that does not start a sentence (a name, most likely),
    else the last word; never the tool's own name."""
    words: list[str] = []
    names: list[str] = []
    sentence_start = True
    for raw in text.split():
        word = raw.strip(_PUNCTUATION)
        if word and word.lower() != tool_name.lower():
            words.append(word)
            if word[0].isupper() and not sentence_start:
                names.append(word)
        sentence_start = raw.endswith((".", "!", "?"))
    if names:
        return names[-1]
    return words[-1] if words else _DEFAULT_WORD


def _reply_text(request: ChatRequest, cleaned: str) -> str:
    messages = request.messages
    if messages[-1].role == "tool":
        return _tool_results_text(messages)
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_schema":
        spec = fmt.json_schema
        schema = None if isinstance(spec, msgspec.UnsetType) else spec.schema
        if isinstance(schema, dict):
            return json_encode(sample_value(schema, _pick_word(cleaned, ""))).decode()
    if fmt is not None and fmt.type in ("json_object", "json_schema"):
        return json_encode({"echo": cleaned}).decode()
    return cleaned or _EMPTY_REPLY


def _tool_results_text(messages: list[Message]) -> str:
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.append(message)
    results.reverse()
    names: dict[str, str] = {}
    for message in messages:
        if message.role == "assistant" and not isinstance(message.tool_calls, msgspec.UnsetType):
            names.update((c.id, c.function.name) for c in message.tool_calls)
    lines = []
    for result in results:
        call_id = result.tool_call_id
        name = names.get(call_id, "unknown") if isinstance(call_id, str) else "unknown"
        lines.append(f"The {name} tool returned: {message_text(result)}")
    return "\n".join(lines)


def _apply_stop(text: str, stop: str | list[str] | None) -> str:
    sequences = [stop] if isinstance(stop, str) else (stop or [])
    cut = min((i for s in sequences if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
