"""Structured output through the real router with the libraries people use for it,
unmodified, against fakes that answer like Anthropic (a model with native structured
output and one where the router emulates it with a forced tool), Gemini and OpenAI:
the official openai SDK's ``parse`` (also streamed), pydantic-ai (its default tool
output and ``NativeOutput``) and LangChain's ``with_structured_output`` (json_schema
and function_calling). Each must get a validated ``Person`` back, and the upstream
must have been asked in its own terms. instructor is not among them: its releases pin
jiter below what the openai SDK this project uses needs (see docs/providers.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from pydantic import BaseModel

from tests.fidelity_world import MODELS, ServerFactory, World, start_world
from tests.services import IN_CI

try:
    from langchain_openai import ChatOpenAI
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
except ImportError:  # a venv from before the dev extra named them
    if IN_CI:
        raise
    pytest.skip("pydantic-ai / langchain-openai missing: run make install", allow_module_level=True)

TARGETS = ["anthropic", "anthropic_native", "gemini", "openai"]


class Person(BaseModel):
    """Someone, as the model extracts them."""

    name: str
    age: int


@pytest.fixture
async def world(tmp_path: Path, aiohttp_server: ServerFactory) -> AsyncIterator[World]:
    w = await start_world(tmp_path, aiohttp_server)
    try:
        yield w
    finally:
        await w.router.stop()


def _check_upstream(world: World, target: str, *, tool: bool) -> None:
    """The provider was asked for JSON in its own terms, and accepted the request."""
    if target.startswith("anthropic"):
        assert world.anthropic.rejected == []
        sent = world.anthropic.received[-1]
        if target == "anthropic_native" and not tool:
            assert sent["output_config"]["format"]["type"] == "json_schema"
        else:
            assert sent["tool_choice"]["type"] in ("tool", "any")
    elif target == "gemini":
        assert world.gemini_violations() == []
        config = world.gemini_calls()[-1].body.get("generationConfig") or {}
        if not tool:
            assert config["responseMimeType"] == "application/json"
            assert config["responseJsonSchema"]["properties"]["age"]["type"] == "integer"
    else:
        sent = world.openai_requests()[-1]
        assert ("tools" in sent) if tool else sent["response_format"]["type"] == "json_schema"


@pytest.mark.parametrize("target", TARGETS)
async def test_openai_sdk_parse(world: World, target: str) -> None:
    async with openai.AsyncOpenAI(
        base_url=world.router.base_url, api_key=world.router.key, max_retries=0
    ) as client:
        completion = await client.chat.completions.parse(
            model=MODELS[target],
            messages=[{"role": "user", "content": "Ada is 36."}],
            response_format=Person,
        )
        assert isinstance(completion.choices[0].message.parsed, Person)
        assert completion.choices[0].finish_reason == "stop"
        _check_upstream(world, target, tool=False)
        async with client.chat.completions.stream(
            model=MODELS[target],
            messages=[{"role": "user", "content": "Ada is 36."}],
            response_format=Person,
        ) as stream:
            final = await stream.get_final_completion()
        assert isinstance(final.choices[0].message.parsed, Person)


def _agent_model(world: World, target: str) -> OpenAIChatModel:
    provider = OpenAIProvider(base_url=world.router.base_url, api_key=world.router.key)
    return OpenAIChatModel(MODELS[target], provider=provider)


@pytest.mark.parametrize("target", TARGETS)
async def test_pydantic_ai_tool_output(world: World, target: str) -> None:
    agent = Agent(_agent_model(world, target), output_type=Person)
    result = await agent.run("Ada is 36.")
    assert isinstance(result.output, Person)
    _check_upstream(world, target, tool=True)


@pytest.mark.parametrize("target", TARGETS)
async def test_pydantic_ai_native_output(world: World, target: str) -> None:
    agent = Agent(_agent_model(world, target), output_type=NativeOutput(Person))
    result = await agent.run("Ada is 36.")
    assert isinstance(result.output, Person)
    _check_upstream(world, target, tool=False)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
async def test_langchain_with_structured_output(world: World, target: str, method: str) -> None:
    llm = ChatOpenAI(
        model=MODELS[target],
        base_url=world.router.base_url,
        api_key=world.router.key,  # type: ignore[arg-type]
        max_retries=0,
    )
    structured = llm.with_structured_output(Person, method=method)  # type: ignore[arg-type]
    person = await structured.ainvoke("Ada is 36.")
    assert isinstance(person, Person)
    _check_upstream(world, target, tool=method == "function_calling")
