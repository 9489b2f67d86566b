"""Fake upstreams for the Anthropic front-door tests: a strict Anthropic Messages API
(native pass-through), OpenAI chat completions and Gemini (translation), each on a
loopback port, and the router config that routes one model name to each.

Routes: ``claude`` (alias ``claude-sonnet-4-5-20250929``, what Claude Code asks for)
-> the fake Anthropic; ``gpt`` -> the fake OpenAI; ``gem`` -> the fake Gemini;
``echo`` -> the in-process echo provider (the harness's base config).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from fake_anthropic import FakeAnthropic, FakeReply
from fake_anthropic import create_app as anthropic_app
from fake_gemini import DEFAULT_API_KEY as GEMINI_KEY
from fake_gemini import FakeReply as GeminiReply
from fake_gemini import make_app as gemini_app
from fake_openai import FAKE_OPENAI, FakeOpenAIConfig, FakeOpenAIState, make_fake_openai

from tests.router_harness import RunningRouter, router_settings, start_router
from tests.services import free_port

DATA = Path(__file__).parent / "data" / "anthropic_dialect"
PLUGIN_DATA = Path(__file__).parents[1] / "plugins" / "viberouter-anthropic" / "tests" / "data"
GEMINI_DATA = Path(__file__).parents[1] / "plugins" / "viberouter-gemini" / "tests" / "data"

CLAUDE_CODE_MODEL = "claude-sonnet-4-5-20250929"

ROUTES = """
[providers.anthropic]
plugin = "anthropic"
settings = {{ base_url = "{anthropic}", api_key = "test-key" }}

[providers.openai]
plugin = "openai"
settings = {{ base_url = "{openai}/v1", api_key = "sk-fake" }}
[providers.openai.models."gpt-4o"]

[providers.gemini]
plugin = "gemini"
settings = {{ base_url = "{gemini}/v1beta", api_key = "{gemini_key}" }}

[routes.claude]
deployments = ["anthropic/claude-sonnet-4-5-20250929"]
aliases = ["{claude_code}"]

[routes.gpt]
deployments = ["openai/gpt-4o"]

[routes.gem]
deployments = ["gemini/gemini-2.5-flash"]
"""


@dataclass
class Upstreams:
    """The running fakes, their recorded traffic, and the router in front of them."""

    anthropic: FakeAnthropic
    openai: FakeOpenAIState
    gemini: web.Application
    router: RunningRouter

    @property
    def url(self) -> str:
        """The router's root (what ANTHROPIC_BASE_URL / the SDK's base_url take)."""
        return self.router.url


async def _serve(app: web.Application, runners: list[web.AppRunner]) -> str:
    runner = web.AppRunner(app)
    await runner.setup()
    runners.append(runner)
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}"


@asynccontextmanager
async def upstreams(
    tmp: Path,
    *,
    anthropic: Sequence[FakeReply] = (),
    openai: FakeOpenAIConfig | None = None,
    gemini: Sequence[GeminiReply] = (),
    extra_toml: str = "",
    **router_kwargs: object,
) -> AsyncIterator[Upstreams]:
    """Every fake upstream and a router routing to them (stopped on exit)."""
    runners: list[web.AppRunner] = []
    fake = FakeAnthropic(replies=list(anthropic))
    oa = make_fake_openai(openai)
    replies = list(gemini) or [GeminiReply.from_file(GEMINI_DATA / "response_text.json")]
    ge = gemini_app(replies)
    router: RunningRouter | None = None
    try:
        toml = ROUTES.format(
            anthropic=await _serve(anthropic_app(fake), runners),
            openai=await _serve(oa, runners),
            gemini=await _serve(ge, runners),
            gemini_key=GEMINI_KEY,
            claude_code=CLAUDE_CODE_MODEL,
        )
        settings = router_settings(tmp, extra_toml=toml + extra_toml, **router_kwargs)  # type: ignore[arg-type]
        router = await start_router(settings)
        yield Upstreams(fake, oa[FAKE_OPENAI], ge, router)
    finally:
        if router is not None:
            await router.stop()
        for runner in runners:
            await runner.cleanup()


__all__ = [
    "CLAUDE_CODE_MODEL",
    "DATA",
    "GEMINI_DATA",
    "PLUGIN_DATA",
    "FakeReply",
    "Upstreams",
    "upstreams",
]
