"""docs/example-plugin: pip-installed into the venv, its own tests pass, it is
discovered through its entry point and serves plain and streamed requests through a
router process to its fake upstream on loopback. Uninstalled afterwards."""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType

import openai
import pytest

from tests.router_harness import serve_app
from tests.router_process import start_router_process

PLUGIN_DIR = Path(__file__).resolve().parent.parent / "docs" / "example-plugin"
DIST = "viberouter-reverse"


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, timeout=240)


@pytest.fixture(scope="module")
def reverse_plugin() -> Iterator[None]:
    """The example plugin installed (not editable) as a reader's copy would be."""
    _pip("install", "--no-deps", "--no-build-isolation", str(PLUGIN_DIR))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        _pip("uninstall", "-y", DIST)
        importlib.invalidate_caches()


def _load_fake() -> ModuleType:
    # The fake lives with the plugin's tests; load it by path (no sys.path change).
    path = PLUGIN_DIR / "tests" / "fake_reverse.py"
    spec = importlib.util.spec_from_file_location("example_fake_reverse", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def fake_upstream() -> AsyncIterator[str]:
    """The fake Reverse API on a loopback port; yields its base URL."""
    fake = _load_fake()
    runner, port = await serve_app(
        fake.make_fake_reverse(fake.FakeReverseConfig(api_key="rk-secret"))
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        sys.modules.pop("example_fake_reverse", None)


def test_example_plugin_is_discovered_and_its_tests_pass(reverse_plugin: None) -> None:
    # A fresh process, as an operator would start after `pip install`.
    listed = subprocess.run(
        [sys.executable, "-m", "router_core.cli", "plugins", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    plugins = {p["name"]: p for p in json.loads(listed)}
    assert plugins["reverse"]["distribution"] == DIST
    assert plugins["reverse"]["error"] is None

    # What a reader runs in their copy: the plugin's pytest config, its own tests.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=PLUGIN_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


CONFIG = """
[server]
host = "127.0.0.1"

[state]
sqlite_path = "router.db"

[logging]
format = "json"

[providers.rev]
plugin = "reverse"
settings = {{ base_url = "{base_url}", api_key = "env:REVERSE_API_KEY" }}

[routes.reverse]
deployments = ["rev/reverse-1"]
"""


async def test_example_plugin_serves_through_the_router(
    reverse_plugin: None, fake_upstream: str, tmp_path: Path
) -> None:
    config = tmp_path / "reverse.toml"
    config.write_text(CONFIG.format(base_url=fake_upstream))
    router = start_router_process(config, tmp_path, env={"REVERSE_API_KEY": "rk-secret"})
    try:
        client = openai.AsyncOpenAI(
            base_url=router.base_url, api_key=router.demo_key(), max_retries=0
        )
        reply = await client.chat.completions.create(
            model="reverse", messages=[{"role": "user", "content": "one two three"}]
        )
        assert reply.choices[0].message.content == "three two one"
        assert reply.usage is not None and reply.usage.completion_tokens == 3

        stream = await client.chat.completions.create(
            model="reverse",
            messages=[{"role": "user", "content": "abc def"}],
            stream=True,
            extra_body={"reverse_mode": "letters"},  # the plugin's extra_params
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "fed cba"

        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="reverse",
                messages=[{"role": "user", "content": "call get_time"}],
                tools=[{"type": "function", "function": {"name": "get_time"}}],
            )
        assert info.value.response.json()["error"] == "invalid_request"
        assert "tools" in info.value.response.json()["message"]
    finally:
        router.stop()
