"""A router with one deployment per kind of upstream, for the Responses and embeddings
end-to-end tests: echo (offline), a Responses-speaking OpenAI fake (native), a
chat-only OpenAI-compatible fake, a fake Anthropic and a fake Gemini (translated).

The fakes answer from the request (a tool call while tools are offered and no tool
output came back yet, text otherwise), so one world serves every test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests import plugin_fakes
from tests.router_harness import RunningRouter, router_settings, start_router

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
DATA = Path(__file__).parent / "data" / "responses" / "upstream"

fake_responses = plugin_fakes.load("openai", "fake_openai_responses")
fake_openai = plugin_fakes.load("openai", "fake_openai")
fake_anthropic = plugin_fakes.load("anthropic", "fake_anthropic")
fake_gemini = plugin_fakes.load("gemini", "fake_gemini")

#: Model names clients use, per kind of upstream.
MODELS = {
    "echo": "echo",
    "native": "native/gpt-5",
    "chat": "chat/gpt-4o-mini",
    "anthropic": "anthropic/claude-sonnet-4-5-20250929",
    "gemini": "gemini/gemini-2.5-flash",
}
TRANSLATED = ("echo", "chat", "anthropic", "gemini")

CONFIG = """
[providers.native]
plugin = "openai"
[providers.native.settings]
base_url = "{native}/v1"
api_key = "sk-fake"
responses_api = "native"
models = ["gpt-5"]

[providers.chat]
plugin = "openai"
[providers.chat.settings]
base_url = "{chat}/v1"
api_key = "sk-fake"
models = ["gpt-4o-mini", "text-embedding-3-small"]

[routes.mixed]
deployments = ["native/gpt-5", "echo/echo-1"]

[providers.anthropic]
plugin = "anthropic"
settings = {{ base_url = "{anthropic}", api_key = "test-key" }}

[providers.gemini]
plugin = "gemini"
settings = {{ base_url = "{gemini}/v1beta", api_key = "test-gemini-key" }}
"""


def _has_tool_output(messages: list[Any], kind: str) -> bool:
    """Whether a tool's result came back (Anthropic tool_result, Gemini functionResponse)."""
    for message in messages:
        if not isinstance(message, dict):
            continue
        blocks = message.get("content" if kind == "anthropic" else "parts")
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_result" or "functionResponse" in block:
                return True
    return False


def anthropic_reply(body: dict[str, Any]) -> Any:
    """A tool call while tools are offered and unanswered; else text (JSON when asked)."""
    reply = fake_anthropic.FakeReply.from_file
    if body.get("tools") and not _has_tool_output(body["messages"], "anthropic"):
        return reply(plugin_fakes.data("anthropic", "response_tool.json"))
    if body.get("stream"):
        return reply(plugin_fakes.data("anthropic", "utf8_text.sse"), chunk_size=7)
    return reply(DATA / "anthropic_text.json")


def gemini_reply(call: Any) -> Any:
    """The same rule for Gemini."""
    reply = fake_gemini.FakeReply.from_file
    if call.body.get("tools") and not _has_tool_output(call.body["contents"], "gemini"):
        return reply(plugin_fakes.data("gemini", "response_tools.json"))
    if call.stream:
        return reply(plugin_fakes.data("gemini", "text_utf8.sse"), piece_size=9)
    config = call.body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        return reply(DATA / "gemini_json.json")
    return reply(plugin_fakes.data("gemini", "response_text.json"))


@dataclass
class World:
    """The router and the fakes behind it."""

    router: RunningRouter
    native: web.Application
    chat: web.Application
    anthropic: Any  # FakeAnthropic
    gemini: web.Application

    def chat_requests(self) -> list[dict[str, Any]]:
        """Bodies the chat-only fake received."""
        return list(self.chat[fake_openai.FAKE_OPENAI].requests)

    def native_requests(self) -> list[dict[str, Any]]:
        """Bodies the Responses fake received."""
        return list(self.native[fake_responses.FAKE_RESPONSES].requests)


async def metrics_with(world: World, needle: str) -> str:
    """The router's metrics text once it holds ``needle``: the middleware counts a
    request after its answer is written, so the client can be a moment ahead."""
    text = ""
    for _ in range(100):  # bounded: about two seconds
        text = world.router.state.metrics.exposition().decode()
        if needle in text:
            break
        await asyncio.sleep(0.02)
    return text


async def start_world(tmp: Path, aiohttp_server: ServerFactory, **settings: Any) -> World:
    """Start the fakes, then the router pointed at them."""
    native = await aiohttp_server(fake_responses.make_fake_responses())
    chat = await aiohttp_server(fake_openai.make_fake_openai(fake_openai.FakeOpenAIConfig()))
    anthropic = fake_anthropic.FakeAnthropic(responder=anthropic_reply)
    anthropic_server = await aiohttp_server(fake_anthropic.create_app(anthropic))
    gemini = await aiohttp_server(fake_gemini.make_app(gemini_reply))
    toml = CONFIG.format(
        native=str(native.make_url("")).rstrip("/"),
        chat=str(chat.make_url("")).rstrip("/"),
        anthropic=str(anthropic_server.make_url("")).rstrip("/"),
        gemini=str(gemini.make_url("")).rstrip("/"),
    )
    router = await start_router(router_settings(tmp, extra_toml=toml, **settings))
    return World(router, native.app, chat.app, anthropic, gemini.app)


@contextlib.asynccontextmanager
async def running_world(
    tmp: Path, aiohttp_server: ServerFactory, **settings: Any
) -> AsyncIterator[World]:
    """:func:`start_world`, the router stopped on the way out."""
    w = await start_world(tmp, aiohttp_server, **settings)
    try:
        yield w
    finally:
        await w.router.stop()


def client(world: World, key: str | None = None) -> openai.AsyncOpenAI:
    """The official SDK against the world's router (its key unless ``key``), no retries."""
    return openai.AsyncOpenAI(
        base_url=world.router.base_url, api_key=key or world.router.key, max_retries=0
    )
