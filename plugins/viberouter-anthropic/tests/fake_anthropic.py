"""A fake Anthropic Messages API for tests: strict request checks, canned replies.

Reusable beyond this plugin's tests (e.g. end-to-end through the router)::

    fake = FakeAnthropic(replies=[FakeReply.from_file(path_to_sse, chunk_size=7)])
    server = await aiohttp_server(create_app(fake))
    # point the provider's base_url at str(server.make_url(""))

Every request to ``POST /v1/messages`` (and ``/v1/messages/count_tokens``, answered
``{"input_tokens": N}``) is recorded in ``fake.received`` (its exact bytes in
``fake.received_raw``) and checked against the Messages API shape (headers, required
fields, alternating roles that start with ``user``, tool_result right after
tool_use, no empty text blocks, system only at the top level, no unknown top-level
fields, at most four well-formed ``cache_control`` breakpoints, ``thinking`` rules:
a budget of at least 1024 below ``max_tokens``, no temperature / top_k / forced tool
choice while thinking, and in a tool loop the last assistant turn opening with its
signed thinking; ``output_config.format`` a JSON schema). A bad request is answered like
Anthropic would (400 ``invalid_request_error`` / 401 ``authentication_error``) and
its problems are kept in ``fake.rejected``. A good one gets the next ``FakeReply``
(the last one repeats), or whatever ``responder`` returns. Only aiohttp and the
standard library are imported, so it can be loaded by path from anywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"

KNOWN_TOP_LEVEL = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "output_config",
        "context_management",
        "cache_control",
        "output_format",
    }
)
USER_BLOCKS = frozenset({"text", "image", "document", "tool_result", "search_result"})
ASSISTANT_BLOCKS = frozenset(
    {"text", "tool_use", "thinking", "redacted_thinking", "server_tool_use"}
)


@dataclass
class FakeReply:
    """One canned answer. ``content_type`` defaults to SSE when the body starts with
    ``event:``, else JSON; ``chunk_size`` writes the body in pieces of that many bytes
    (splitting lines and UTF-8 sequences the way networks do)."""

    body: bytes
    status: int = 200
    content_type: str | None = None
    chunk_size: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> FakeReply:
        """A reply whose body is the bytes of ``path``."""
        return cls(body=Path(path).read_bytes(), **kwargs)

    def media_type(self) -> str:
        """The Content-Type header to send."""
        if self.content_type is not None:
            return self.content_type
        if self.body.lstrip().startswith(b"event:"):
            return "text/event-stream; charset=utf-8"
        return "application/json"


@dataclass
class FakeAnthropic:
    """Configuration and recorded traffic of one fake upstream."""

    replies: list[FakeReply] = field(default_factory=list)
    #: the key clients must send as ``x-api-key``; ``None`` accepts any.
    api_key: str | None = "test-key"
    #: overrides ``replies``: called with each valid request body.
    responder: Callable[[dict[str, Any]], FakeReply] | None = None
    #: ``input_tokens`` answered by ``count_tokens``; ``None`` counts body bytes / 4.
    count_tokens: int | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    #: the exact bytes of every request body, and the path it was sent to.
    received_raw: list[bytes] = field(default_factory=list)
    received_paths: list[str] = field(default_factory=list)
    received_headers: list[dict[str, str]] = field(default_factory=list)
    rejected: list[list[str]] = field(default_factory=list)
    _served: int = 0

    def next_reply(self, body: dict[str, Any]) -> FakeReply:
        """The reply for a valid request."""
        if self.responder is not None:
            return self.responder(body)
        if not self.replies:
            raise RuntimeError("FakeAnthropic has no replies configured")
        reply = self.replies[min(self._served, len(self.replies) - 1)]
        self._served += 1
        return reply


FAKE_KEY = web.AppKey("fake_anthropic", FakeAnthropic)


def create_app(fake: FakeAnthropic) -> web.Application:
    """An aiohttp application serving ``POST /v1/messages`` from ``fake``."""
    app = web.Application()
    app[FAKE_KEY] = fake
    app.router.add_post(MESSAGES_PATH, _handle_messages)
    app.router.add_post(COUNT_TOKENS_PATH, _handle_messages)
    return app


def anthropic_error(status: int, error_type: str, message: str) -> web.Response:
    """An error answer in Anthropic's envelope."""
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return web.json_response(body, status=status, headers={"request-id": "req_fake"})


async def _handle_messages(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE_KEY]
    headers = {k.lower(): v for k, v in request.headers.items()}
    fake.received_headers.append(headers)
    if fake.api_key is not None and headers.get("x-api-key") != fake.api_key:
        fake.rejected.append(["x-api-key: invalid"])
        return anthropic_error(401, "authentication_error", "invalid x-api-key")
    raw = await request.read()
    fake.received_raw.append(raw)
    fake.received_paths.append(request.path)
    try:
        body = json.loads(raw)
    except ValueError:
        fake.rejected.append(["body: not JSON"])
        return anthropic_error(400, "invalid_request_error", "There was an issue with the JSON")
    if isinstance(body, dict):
        fake.received.append(body)
    counting = request.path == COUNT_TOKENS_PATH
    problems = check_headers(headers) + check_messages_request(body, count_tokens=counting)
    if problems:
        fake.rejected.append(problems)
        return anthropic_error(400, "invalid_request_error", "; ".join(problems))
    if counting:
        tokens = fake.count_tokens if fake.count_tokens is not None else len(raw) // 4
        return web.json_response({"input_tokens": tokens}, headers={"request-id": "req_fake"})
    return await _send(request, fake.next_reply(body))


async def _send(request: web.Request, reply: FakeReply) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status, headers=dict(reply.headers))
    response.content_type = reply.media_type().split(";")[0]
    if "charset" in reply.media_type():
        response.charset = "utf-8"
    await response.prepare(request)
    size = reply.chunk_size or len(reply.body) or 1
    for start in range(0, len(reply.body), size):
        await response.write(reply.body[start : start + size])
        await asyncio.sleep(0)  # let each piece leave as its own write
    await response.write_eof()
    return response


# ---------------------------------------------------------------- validation


def check_headers(headers: Mapping[str, str]) -> list[str]:
    """Problems with the request headers (lower-cased names)."""
    problems = []
    if not headers.get("anthropic-version"):
        problems.append("anthropic-version: header is required")
    if not headers.get("content-type", "").startswith("application/json"):
        problems.append("content-type: must be application/json")
    return problems


def check_messages_request(body: Any, *, count_tokens: bool = False) -> list[str]:
    """Problems with a Messages API request body (a ``count_tokens`` body has no
    ``max_tokens``); empty when it is well formed."""
    if not isinstance(body, dict):
        return ["body: must be a JSON object"]
    problems = [
        f"{key}: Extra inputs are not permitted" for key in body if key not in KNOWN_TOP_LEVEL
    ]
    if not isinstance(body.get("model"), str) or not body["model"]:
        problems.append("model: Field required")
    max_tokens = body.get("max_tokens")
    bad_max = not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    if bad_max and not count_tokens:
        problems.append("max_tokens: Field required (integer >= 1)")
    problems += _check_sampling(body)
    problems += _check_system(body.get("system"))
    problems += _check_tools(body)
    problems += _check_output_config(body.get("output_config"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append("messages: Field required (non-empty list)")
        return problems
    problems += _check_cache_control(body, messages)
    problems += _check_thinking(body, messages, count_tokens=count_tokens)
    return problems + _check_turns(messages)


#: Anthropic's limit on cache_control breakpoints per request.
MAX_BREAKPOINTS = 4


def _breakpoints(body: dict[str, Any], messages: list[Any]) -> list[Any]:
    marks: list[Any] = []
    system = body.get("system")
    items: list[Any] = [*(body.get("tools") or []), *(system if isinstance(system, list) else [])]
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            inner = block.get("content") if isinstance(block, dict) else None
            items += inner if isinstance(inner, list) else []
            items.append(block)
    for item in items:
        if isinstance(item, dict) and "cache_control" in item:
            marks.append(item["cache_control"])
    return marks


def _check_cache_control(body: dict[str, Any], messages: list[Any]) -> list[str]:
    marks = _breakpoints(body, messages)
    problems = []
    if len(marks) > MAX_BREAKPOINTS:
        problems.append(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marks)}."
        )
    for mark in marks:
        ok = isinstance(mark, dict) and mark.get("type") == "ephemeral"
        if not ok or mark.get("ttl", "5m") not in ("5m", "1h") or set(mark) - {"type", "ttl"}:
            problems.append(f"cache_control: invalid breakpoint {mark!r}")
    return problems


def _check_output_config(config: Any) -> list[str]:
    if config is None:
        return []
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return ["output_config.format.type: must be 'json_schema'"]
    if not isinstance(fmt.get("schema"), dict):
        return ["output_config.format.schema: Field required"]
    return []


def _check_thinking(body: dict[str, Any], messages: list[Any], *, count_tokens: bool) -> list[str]:
    thinking = body.get("thinking")
    if thinking is None or (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        return []
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return ["thinking.type: must be enabled, disabled or adaptive"]
    problems = []
    budget = thinking.get("budget_tokens")
    if thinking["type"] == "enabled":
        if not isinstance(budget, int | float) or budget < 1024:
            problems.append("thinking.enabled.budget_tokens: Input should be >= 1024")
        # (a float budget is a byte-preservation fixture's; only ints are compared)
        elif isinstance(budget, int) and not count_tokens and budget >= body.get("max_tokens", 0):
            problems.append("`max_tokens` must be greater than `thinking.budget_tokens`")
    if "temperature" in body and body["temperature"] != 1:
        problems.append("`temperature` may only be set to 1 when thinking is enabled")
    if "top_k" in body:
        problems.append("`top_k` is not available when thinking is enabled")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        problems.append("Thinking may not be enabled when tool_choice forces tool use.")
    return problems + _check_replayed_thinking(messages)


def _check_replayed_thinking(messages: list[Any]) -> list[str]:
    # In a tool loop (the last user turn answers tool calls) the assistant turn that
    # made the calls must open with its thinking, signed.
    problems = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        for j, block in enumerate(content if isinstance(content, list) else []):
            unsigned = not isinstance(block, dict) or not block.get("signature")
            if isinstance(block, dict) and block.get("type") == "thinking" and unsigned:
                problems.append(f"messages.{i}.content.{j}.thinking.signature: Field required")
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    last_content = last.get("content")
    last_blocks: list[Any] = last_content if isinstance(last_content, list) else []
    in_loop = bool(last_blocks) and last_blocks[0].get("type") == "tool_result"
    if in_loop and len(messages) >= 2 and isinstance(messages[-2], dict):
        blocks = messages[-2].get("content")
        first = blocks[0].get("type") if isinstance(blocks, list) and blocks else "text"
        if first not in ("thinking", "redacted_thinking"):
            problems.append(
                f"messages.{len(messages) - 2}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a "
                "final `assistant` message must start with a thinking block."
            )
    return problems


def _check_sampling(body: dict[str, Any]) -> list[str]:
    problems = []
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
            problems.append(f"{name}: must be a number between 0 and 1")
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        problems.append("top_k: must be an integer >= 1")
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        problems.append("stop_sequences: must be a list of strings")
    if "stream" in body and not isinstance(body["stream"], bool):
        problems.append("stream: must be a boolean")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or set(metadata) - {"user_id"}):
        problems.append("metadata: only user_id is allowed")
    return problems


def _check_system(system: Any) -> list[str]:
    if system is None or (isinstance(system, str) and system):
        return []
    if not isinstance(system, list) or not system:
        return ["system: must be a non-empty string or list of text blocks"]
    return [
        f"system.{i}: must be a text block with non-empty text"
        for i, block in enumerate(system)
        if not (isinstance(block, dict) and block.get("type") == "text" and block.get("text"))
    ]


def _check_tools(body: dict[str, Any]) -> list[str]:
    problems = []
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            return ["tools: must be a list"]
        for i, tool in enumerate(tools):
            schema = tool.get("input_schema") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                problems.append(f"tools.{i}.name: Field required")
                continue
            names.add(tool["name"])
            if tool.get("type", "custom") != "custom":
                continue  # a versioned server tool (web_search_20250305 ...): no schema
            if not isinstance(schema, dict) or schema.get("type") != "object":
                problems.append(f"tools.{i}.input_schema.type: must be 'object'")
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            problems.append("tool_choice.type: must be auto, any, tool or none")
        elif kind == "tool" and choice.get("name") not in names:
            problems.append("tool_choice.name: must name one of the tools")
        if tools is None:
            problems.append("tool_choice: requires tools")
    return problems


def _check_turns(messages: list[Any]) -> list[str]:
    problems: list[str] = []
    pending_tool_use: list[str] = []  # ids the next user turn must answer first
    previous_role = ""
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            problems.append(f"{where}.role: must be user or assistant (system is top-level)")
            continue
        if i == 0 and role != "user":
            problems.append(f"{where}.role: the first message must use the user role")
        if role == previous_role:
            problems.append(f"{where}.role: roles must alternate between user and assistant")
        previous_role = role
        blocks = _blocks(message.get("content"), where, problems)
        allowed = USER_BLOCKS if role == "user" else ASSISTANT_BLOCKS
        for j, block in enumerate(blocks):
            problems += _check_block(block, f"{where}.content.{j}", allowed)
        results = _leading_tool_results(blocks)
        if pending_tool_use and results != pending_tool_use:
            problems.append(
                f"{where}: tool_use ids were found without tool_result blocks immediately "
                f"after: {pending_tool_use} (got {results})"
            )
        elif results and not pending_tool_use:
            problems.append(f"{where}: tool_result blocks must follow a tool_use turn")
        if len(results) != sum(1 for b in blocks if b.get("type") == "tool_result"):
            problems.append(f"{where}: tool_result blocks must come before other content")
        pending_tool_use = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
    if pending_tool_use and previous_role == "assistant":
        # A trailing tool_use turn is a prefill that cannot be continued.
        problems.append("messages: the last assistant tool_use has no tool_result")
    return problems


def _blocks(content: Any, where: str, problems: list[str]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if not content:
            problems.append(f"{where}.content: must be non-empty")
            return []
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not content:
        problems.append(f"{where}.content: must be a non-empty string or list")
        return []
    if not all(isinstance(b, dict) for b in content):
        problems.append(f"{where}.content: every block must be an object")
        return []
    return content


def _leading_tool_results(blocks: list[dict[str, Any]]) -> list[str]:
    ids = []
    for block in blocks:
        if block.get("type") != "tool_result":
            break
        ids.append(block.get("tool_use_id", ""))
    return ids


def _check_block(block: dict[str, Any], where: str, allowed: frozenset[str]) -> list[str]:
    kind = block.get("type")
    if kind not in allowed:
        return [f"{where}.type: {kind!r} is not allowed in this role"]
    if kind == "text" and not (isinstance(block.get("text"), str) and block["text"]):
        return [f"{where}.text: text content blocks must be non-empty"]
    if kind == "image":
        source = block.get("source")
        ok = isinstance(source, dict) and (
            (source.get("type") == "base64" and source.get("media_type") and source.get("data"))
            or (source.get("type") == "url" and source.get("url"))
        )
        return [] if ok else [f"{where}.source: invalid image source"]
    if kind == "tool_use":
        ok = isinstance(block.get("id"), str) and isinstance(block.get("name"), str)
        if not ok or not isinstance(block.get("input"), dict):
            return [f"{where}: tool_use needs id, name and an object input"]
    if kind == "tool_result":
        content = block.get("content")
        if not isinstance(block.get("tool_use_id"), str):
            return [f"{where}.tool_use_id: Field required"]
        if isinstance(content, list):
            return [
                f"{where}.content.{k}.text: text content blocks must be non-empty"
                for k, inner in enumerate(content)
                if isinstance(inner, dict) and inner.get("type") == "text" and not inner.get("text")
            ]
    return []


__all__ = [
    "COUNT_TOKENS_PATH",
    "FAKE_KEY",
    "MESSAGES_PATH",
    "FakeAnthropic",
    "FakeReply",
    "anthropic_error",
    "check_headers",
    "check_messages_request",
    "create_app",
]


# ---------------------------------------------------------------- prompt caching


def prompt_cache_responder(
    *,
    prefix_tokens: int,
    input_tokens: int,
    output_tokens: int,
    text: str = "ok",
    one_hour_tokens: int = 0,
) -> Callable[[dict[str, Any]], FakeReply]:
    """A responder (JSON answers) that reports usage the way Anthropic's prompt cache
    does: a request with ``cache_control`` breakpoints writes ``prefix_tokens`` the
    first time its cached prefix (here: model, system and tools) is seen
    (``cache_creation_input_tokens``) and reads them on later requests
    (``cache_read_input_tokens``); ``input_tokens`` are the uncached rest. Without a
    breakpoint nothing is cached and every token is ``input_tokens``. A write is split
    by TTL in ``cache_creation``: when a breakpoint says ``"ttl": "1h"``, the first
    ``one_hour_tokens`` of the prefix (the part up to that breakpoint) go to the
    one-hour cache, the rest to the 5-minute one."""
    seen: set[str] = set()

    def respond(body: dict[str, Any]) -> FakeReply:
        messages = body.get("messages") or []
        usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        marks = _breakpoints(body, messages if isinstance(messages, list) else [])
        if marks:
            prefix = json.dumps([body.get(k) for k in ("model", "system", "tools")])
            hit = prefix in seen
            seen.add(prefix)
            written = 0 if hit else prefix_tokens
            long_lived = any(isinstance(m, dict) and m.get("ttl") == "1h" for m in marks)
            one_hour = min(one_hour_tokens, written) if long_lived else 0
            usage["cache_creation_input_tokens"] = written
            usage["cache_read_input_tokens"] = prefix_tokens if hit else 0
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": written - one_hour,
                "ephemeral_1h_input_tokens": one_hour,
            }
        else:
            usage["input_tokens"] = input_tokens + prefix_tokens
        answer = {
            "id": f"msg_fake{len(seen):04d}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return FakeReply(json.dumps(answer).encode(), headers={"request-id": "req_fake"})

    return respond
