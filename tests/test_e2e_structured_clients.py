"""Structured output through the real router with the libraries people use for it,
unmodified, against fakes that answer like Anthropic (a model with native structured
output and one where the router emulates it with a forced tool), Gemini and OpenAI:
the official openai SDK's ``parse`` (also streamed), pydantic-ai (its default tool
output and ``NativeOutput``), LangChain's ``with_structured_output`` (json_schema
and function_calling) and instructor (over the openai SDK in its TOOLS, TOOLS_STRICT,
JSON and JSON_SCHEMA modes, also streamed as partial objects; over the anthropic SDK
through the router's Messages API in ANTHROPIC_TOOLS and ANTHROPIC_JSON). Each must get
a validated ``Person`` back at the first try, and the upstream must have been asked in
its own terms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from tests.fidelity_world import MODELS, ServerFactory, World, prompted_schema, start_world
from tests.services import IN_CI

try:
    import instructor
    from langchain_openai import ChatOpenAI
    from pydantic_ai import Agent, NativeOutput
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
except ImportError:  # a venv from before the dev extra named them
    if IN_CI:
        raise
    pytest.skip(
        "instructor / pydantic-ai / langchain-openai missing: run make install",
        allow_module_level=True,
    )

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


def _upstream_bodies(world: World, target: str) -> list[dict[str, Any]]:
    """The request bodies the target's fake accepted so far."""
    if target.startswith("anthropic"):
        return list(world.anthropic.received)
    if target == "gemini":
        return [call.body for call in world.gemini_calls()]
    return world.openai_requests()


def _check_json_mode(world: World, target: str, *, chat: bool) -> None:
    """JSON mode (the schema only in the prompt) reached the upstream in its own terms:
    over the chat API as "any JSON object" (Anthropic: the router's answer tool), over
    the Messages API as a plain request."""
    sent = _upstream_bodies(world, target)[-1]
    schema = prompted_schema(sent)
    assert schema is not None and schema["title"] == "Person"
    if target.startswith("anthropic"):
        assert world.anthropic.rejected == []
        if chat:
            assert sent["tool_choice"] == {"type": "tool", "name": "json_output"}
        else:
            assert "tools" not in sent
    elif target == "gemini":
        assert world.gemini_violations() == []
        config = sent["generationConfig"]
        assert config.get("responseMimeType") == ("application/json" if chat else None)
        assert "responseJsonSchema" not in config
    else:
        assert sent.get("response_format") == ({"type": "json_object"} if chat else None)


INSTRUCTOR_MODES = {
    "TOOLS": instructor.Mode.TOOLS,
    "JSON": instructor.Mode.JSON,
    "JSON_SCHEMA": instructor.Mode.JSON_SCHEMA,
}
PROMPT = [{"role": "user", "content": "Ada is 36."}]


def _check_partials(partials: list[Any]) -> None:
    """A streamed extraction ends with the whole object."""
    assert partials, "no partial object was streamed"
    last = partials[-1]
    assert isinstance(last.name, str) and isinstance(last.age, int)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", list(INSTRUCTOR_MODES))
async def test_instructor_over_openai_sdk(world: World, target: str, mode: str) -> None:
    """TOOLS: a named tool_choice; JSON: response_format json_object with the schema in
    the system prompt; JSON_SCHEMA: response_format json_schema. Then streamed."""
    async with openai.AsyncOpenAI(
        base_url=world.router.base_url, api_key=world.router.key, max_retries=0
    ) as sdk:
        client = instructor.from_openai(sdk, mode=INSTRUCTOR_MODES[mode])
        before = len(_upstream_bodies(world, target))
        person = await client.chat.completions.create(
            model=MODELS[target], response_model=Person, messages=PROMPT, max_retries=1
        )
        assert isinstance(person, Person)
        assert len(_upstream_bodies(world, target)) == before + 1  # valid at the first try
        if mode == "JSON":
            _check_json_mode(world, target, chat=True)
        else:
            _check_upstream(world, target, tool=mode == "TOOLS")
        partials = [
            p
            async for p in client.chat.completions.create_partial(
                model=MODELS[target], response_model=Person, messages=PROMPT, max_retries=1
            )
        ]
    _check_partials(partials)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("mode", ["TOOLS", "JSON"])
async def test_instructor_over_anthropic_sdk(world: World, target: str, mode: str) -> None:
    """instructor over the anthropic SDK, through the router's Messages API: passed
    through to Anthropic, translated to Gemini and OpenAI. (Its JSON_SCHEMA mode falls
    back to JSON instructions with the anthropic SDK this project uses, which has
    ``output_config`` instead of the beta ``output_format`` instructor looks for.)"""
    sdk = anthropic.AsyncAnthropic(
        base_url=world.router.url, api_key=world.router.key, max_retries=0
    )
    try:
        client = instructor.from_anthropic(sdk, mode=INSTRUCTOR_MODES[mode])
        before = len(_upstream_bodies(world, target))
        person = await client.messages.create(
            model=MODELS[target],
            max_tokens=1024,
            response_model=Person,
            messages=PROMPT,  # type: ignore[arg-type]
            max_retries=1,
        )
        assert isinstance(person, Person)
        assert len(_upstream_bodies(world, target)) == before + 1
        if mode == "JSON":
            _check_json_mode(world, target, chat=False)
        else:
            _check_upstream(world, target, tool=True)
        partials = [
            p
            async for p in client.messages.create_partial(
                model=MODELS[target],
                max_tokens=1024,
                response_model=Person,
                messages=PROMPT,  # type: ignore[arg-type]
                max_retries=1,
            )
        ]
    finally:
        await sdk.close()
    _check_partials(partials)
