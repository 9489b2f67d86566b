"""A router in front of answering fakes for the translation-fidelity tests: Anthropic
(a model with native structured output and one without), Gemini (2.5 and 3) and an
OpenAI-compatible server, each answering from the request it received the way the
real API would for structured output, tool loops with thinking and prompt caching.

What each fake received stays inspectable (``world.anthropic.received``,
``world.gemini_calls()``, ``world.openai_requests()``); a request the real API would
refuse is answered with its 400 and kept in ``rejected`` / ``violations``."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from viberouter_echo.schema_values import sample_value

from tests import plugin_fakes
from tests.router_harness import RunningRouter, router_settings, start_router

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]

fake_anthropic = plugin_fakes.load("anthropic", "fake_anthropic")
fake_gemini = plugin_fakes.load("gemini", "fake_gemini")
fake_openai = plugin_fakes.load("openai", "fake_openai")

#: Model names clients use.
MODELS = {
    "anthropic": "anthropic/claude-sonnet-4-20250514",  # structured output emulated
    "anthropic_native": "anthropic/claude-sonnet-4-5-20250929",
    "gemini": "gemini/gemini-2.5-flash",
    "gemini3": "gemini/gemini-3-pro-preview",
    "openai": "openai/gpt-4o-mini",
}
#: The signatures the fakes sign their thinking with.
ANTHROPIC_SIGNATURE = "EqQBCkYIBhgCKkD-signed-by-the-fake"
GEMINI_SIGNATURE = "c2lnbmVkLWJ5LWdlbWluaQ=="
#: Tokens the fakes report as cached (read, or written on the first sight of a prefix).
CACHED_TOKENS = 2048

CONFIG = """
[providers.anthropic]
plugin = "anthropic"
settings = {{ base_url = "{anthropic}", api_key = "test-key" }}

[providers.gemini]
plugin = "gemini"
settings = {{ base_url = "{gemini}/v1beta", api_key = "test-gemini-key" }}

[providers.openai]
plugin = "openai"
[providers.openai.settings]
base_url = "{openai}/v1"
api_key = "sk-fake"
models = ["gpt-4o-mini"]
"""


# ---------------------------------------------------------------- Anthropic


def _strings(value: Any) -> list[str]:
    """Every string inside a request body, in order."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [s for v in items for s in _strings(v)] if isinstance(value, dict | list) else []


def prompted_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The first JSON schema (an object with ``properties``) the prompt spells out."""
    decoder = json.JSONDecoder()
    for text in _strings(body):
        start = text.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(text, start)
            except ValueError:
                value = None
            if isinstance(value, dict) and isinstance(value.get("properties"), dict):
                return value
            start = text.find("{", start + 1)
    return None


def json_answer(schema: dict[str, Any], body: dict[str, Any]) -> Any:
    """What a model asked for JSON answers: a value of ``schema``, or in JSON mode (any
    object, the schema given in words, as instructor's JSON mode does) of the schema the
    prompt spells out."""
    if "properties" not in schema:
        schema = prompted_schema(body) or schema
    return sample_value(schema)


def text_answer(body: dict[str, Any]) -> str:
    """A plain answer: the JSON the prompt asks for in words (instructor's JSON mode
    over the Messages API), else a sentence."""
    schema = prompted_schema(body)
    return "All done." if schema is None else json.dumps(sample_value(schema))


def _answered(messages: list[Any]) -> bool:
    last = messages[-1].get("content") if messages else None
    return isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)


def _marked(body: dict[str, Any]) -> bool:
    return "cache_control" in json.dumps(body)


def _anthropic_sse(message: dict[str, Any]) -> bytes:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    out = [event("message_start", {"message": start})]
    for i, block in enumerate(message["content"]):
        kind = block["type"]
        empty = {
            "text": {"type": "text", "text": ""},
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
        }
        first = empty.get(kind, {**block, "input": {}} if kind == "tool_use" else block)
        out.append(event("content_block_start", {"index": i, "content_block": first}))
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            deltas = [{"type": "text_delta", "text": block["text"]}]
        elif kind == "thinking":
            deltas = [
                {"type": "thinking_delta", "thinking": block["thinking"]},
                {"type": "signature_delta", "signature": block["signature"]},
            ]
        elif kind == "tool_use":
            raw = json.dumps(block["input"])
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in ("", raw[:5], raw[5:])
            ]
        for delta in deltas:
            out.append(event("content_block_delta", {"index": i, "delta": delta}))
        out.append(event("content_block_stop", {"index": i}))
    final = {"delta": {"stop_reason": message["stop_reason"], "stop_sequence": None}}
    out.append(
        event("message_delta", {**final, "usage": {"output_tokens": usage["output_tokens"]}})
    )
    out.append(event("message_stop", {}))
    return "".join(out).encode()


@dataclass
class AnthropicBrain:
    """Answers like Claude would: native JSON, the forced tool, thinking, caching."""

    prefixes_seen: set[str] = field(default_factory=set)

    def content(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": "Let me work this out.",
                    "signature": ANTHROPIC_SIGNATURE,
                }
            )
        fmt = (body.get("output_config") or {}).get("format")
        choice = body.get("tool_choice") or {}
        tools = body.get("tools") or []
        if fmt is not None:
            blocks.append({"type": "text", "text": json.dumps(sample_value(fmt["schema"]))})
            return blocks, "end_turn"
        if (
            tools
            and not _answered(body["messages"])
            and (thinking or choice.get("type") in ("any", "tool"))
        ):
            named = choice.get("name") or tools[-1]["name"]
            tool = next(t for t in tools if t["name"] == named)
            call = {"type": "tool_use", "id": f"toolu_{len(body['messages'])}", "name": named}
            schema = tool["input_schema"]
            value = json_answer(schema, body) if named == "json_output" else sample_value(schema)
            blocks.append({**call, "input": value})
            return blocks, "tool_use"
        blocks.append({"type": "text", "text": text_answer(body)})
        return blocks, "end_turn"

    def usage(self, body: dict[str, Any]) -> dict[str, int]:
        usage = {
            "input_tokens": 50,
            "output_tokens": 20,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        if _marked(body):
            prefix = json.dumps(body.get("system"))
            key = (
                "cache_read_input_tokens"
                if prefix in self.prefixes_seen
                else "cache_creation_input_tokens"
            )
            self.prefixes_seen.add(prefix)
            usage[key] = CACHED_TOKENS
        elif "CACHED" in json.dumps(body.get("system")):
            usage["cache_read_input_tokens"] = CACHED_TOKENS  # a prefix cached automatically
        return usage

    def __call__(self, body: dict[str, Any]) -> Any:
        content, stop = self.content(body)
        message = {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": self.usage(body),
        }  # fmt: skip
        if body.get("stream"):
            return fake_anthropic.FakeReply(body=_anthropic_sse(message), chunk_size=11)
        return fake_anthropic.FakeReply(body=json.dumps(message).encode())


# ---------------------------------------------------------------- Gemini


def _gemini_answered(contents: list[Any]) -> bool:
    return any("functionResponse" in p for c in contents for p in c.get("parts", []))


def gemini_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """What Gemini would answer: JSON for a schema, a signed call, or signed text."""
    config = body.get("generationConfig") or {}
    parts: list[dict[str, Any]] = []
    if (config.get("thinkingConfig") or {}).get("includeThoughts"):
        parts.append({"text": "Thinking it over.", "thought": True})
    if config.get("responseMimeType") == "application/json":
        schema = config.get("responseJsonSchema") or {"type": "object"}
        return [*parts, {"text": json.dumps(json_answer(schema, body))}]
    declarations = [d for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    if declarations and not _gemini_answered(body["contents"]):
        decl = declarations[-1]
        args = sample_value(decl.get("parametersJsonSchema") or {"type": "object"})
        call = {"functionCall": {"name": decl["name"], "args": args}}
        return [*parts, {**call, "thoughtSignature": GEMINI_SIGNATURE}]
    return [*parts, {"text": text_answer(body), "thoughtSignature": GEMINI_SIGNATURE}]


def gemini_reply(call: Any) -> Any:
    """The whole answer, one event when streaming (Gemini streams whole parts)."""
    usage = {"promptTokenCount": 40, "candidatesTokenCount": 10, "thoughtsTokenCount": 5,
             "totalTokenCount": 55, "cachedContentTokenCount": 32}  # fmt: skip
    answer = {
        "candidates": [{"content": {"role": "model", "parts": gemini_parts(call.body)},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage, "modelVersion": call.model, "responseId": "fxFid",
    }  # fmt: skip
    if call.stream:
        raw = b"data: " + json.dumps(answer).encode() + b"\r\n\r\n"
        return fake_gemini.FakeReply(body=raw, content_type="text/event-stream")
    return fake_gemini.FakeReply(body=json.dumps(answer).encode())


# ---------------------------------------------------------------- OpenAI


def openai_reply(body: dict[str, Any]) -> bytes:
    """JSON for a json_schema, a tool call when one is demanded, else text."""
    message: dict[str, Any] = {"role": "assistant", "content": text_answer(body), "refusal": None}
    finish = "stop"
    fmt = body.get("response_format") or {}
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    answered = any(m.get("role") == "tool" for m in body["messages"])
    if fmt.get("type") == "json_schema":
        message["content"] = json.dumps(sample_value(fmt["json_schema"].get("schema", {})))
    elif fmt.get("type") == "json_object":
        message["content"] = json.dumps(json_answer({"type": "object"}, body))
    elif tools and not answered and choice not in (None, "auto", "none"):
        named = (
            choice["function"]["name"]
            if isinstance(choice, dict)
            else tools[-1]["function"]["name"]
        )
        tool = next(t for t in tools if t["function"]["name"] == named)
        args = json.dumps(sample_value(tool["function"].get("parameters") or {"type": "object"}))
        call = {
            "id": "call_fake",
            "type": "function",
            "function": {"name": named, "arguments": args},
        }
        message.update(content=None, tool_calls=[call])
        finish = "tool_calls"
    answer = {
        "id": "chatcmpl-fid", "object": "chat.completion", "created": 1700000000,
        "model": body["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                  "prompt_tokens_details": {"cached_tokens": 16}},
    }  # fmt: skip
    return json.dumps(answer).encode()


# ---------------------------------------------------------------- the world


@dataclass
class World:
    """The router and the fakes behind it."""

    router: RunningRouter
    anthropic: Any  # FakeAnthropic
    gemini: web.Application
    openai: web.Application

    def gemini_calls(self) -> list[Any]:
        """Every generateContent call the Gemini fake accepted."""
        return list(self.gemini[fake_gemini.CALLS])

    def gemini_violations(self) -> list[str]:
        """Requests the Gemini fake refused, and why."""
        return list(self.gemini[fake_gemini.VIOLATIONS])

    def openai_requests(self) -> list[dict[str, Any]]:
        """Bodies the OpenAI fake accepted."""
        return list(self.openai[fake_openai.FAKE_OPENAI].requests)


async def start_world(tmp: Path, aiohttp_server: ServerFactory) -> World:
    """Start the fakes, then the router pointed at them."""
    anthropic = fake_anthropic.FakeAnthropic(responder=AnthropicBrain())
    anthropic_server = await aiohttp_server(fake_anthropic.create_app(anthropic))
    gemini = await aiohttp_server(fake_gemini.make_app(gemini_reply))
    config = fake_openai.FakeOpenAIConfig(responder=openai_reply)
    openai = await aiohttp_server(fake_openai.make_fake_openai(config))
    toml = CONFIG.format(
        anthropic=str(anthropic_server.make_url("")).rstrip("/"),
        gemini=str(gemini.make_url("")).rstrip("/"),
        openai=str(openai.make_url("")).rstrip("/"),
    )
    router = await start_router(router_settings(tmp, extra_toml=toml))
    return World(router, anthropic, gemini.app, openai.app)
