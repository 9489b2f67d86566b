"""A provider plugin written in tmp_path and pip-installed during the test is
discovered through its entry point and serves a request: no core change."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.router_process import start_router_process

PLUGIN = '''
from collections.abc import AsyncIterator

from router_core.plugin_api import (
    ChatCompletion, Choice, LocalResponse, ModelCard, ProviderPlugin, ResponseMessage,
    UpstreamEvent, UpstreamRequest, Usage, decode_completion, json_encode, new_completion_id, now,
)


class ShoutProvider(ProviderPlugin):
    """Answers with the last user message in upper case."""

    def models(self):
        return [ModelCard(id="shout-1", owned_by="tests")]

    def build_request(self, request, deployment, *, extras=None):
        text = request.messages[-1].content
        return UpstreamRequest("POST", "local://shout", {}, text.encode(), "json")

    def serve_local(self, request):
        async def body() -> AsyncIterator[bytes]:
            c = ChatCompletion(
                id=new_completion_id(), created=now(), model="shout-1",
                choices=[Choice(message=ResponseMessage(content=request.body.decode().upper()),
                                finish_reason="stop")],
                usage=Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2),
            )
            yield json_encode(c)
        return LocalResponse(200, {}, body())

    def parse_response(self, request, deployment, body):
        return decode_completion(body)

    def stream_translator(self, request, deployment):
        raise NotImplementedError
'''

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "viberouter-shout-test"
version = "9.9.1"

[project.entry-points."viberouter.providers"]
shout = "viberouter_shout_test:ShoutProvider"
"""


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, timeout=240)


@pytest.fixture
def shout_plugin(tmp_path: Path) -> Iterator[None]:
    pkg = tmp_path / "shout"
    (pkg / "viberouter_shout_test").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "viberouter_shout_test" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    pip("install", "--no-deps", "--no-build-isolation", str(pkg))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        pip("uninstall", "-y", "viberouter-shout-test")
        importlib.invalidate_caches()


CONFIG = """
[server]
host = "127.0.0.1"

[state]
sqlite_path = "router.db"

[logging]
format = "json"

[providers.loud]
plugin = "shout"
"""


def test_installed_plugin_is_discovered_and_serves(shout_plugin: None, tmp_path: Path) -> None:
    # A fresh process, as an operator would start after `pip install`.
    out = subprocess.run(
        [sys.executable, "-m", "router_core.cli", "plugins", "--json"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    plugins = {p["name"]: p for p in json.loads(out)}
    assert plugins["shout"]["version"] == "9.9.1"
    assert plugins["shout"]["distribution"] == "viberouter-shout-test"
    assert plugins["shout"]["error"] is None

    config = tmp_path / "shout.toml"
    config.write_text(CONFIG)
    router = start_router_process(config, tmp_path)
    try:
        client = openai.OpenAI(base_url=router.base_url, api_key=router.demo_key(), max_retries=0)
        resp = client.chat.completions.create(
            model="loud/shout-1", messages=[{"role": "user", "content": "quiet please"}]
        )
        assert resp.choices[0].message.content == "QUIET PLEASE"
    finally:
        router.stop()


BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "viberouter-broken-test"
version = "0.0.1"

[project.entry-points."viberouter.providers"]
broken = "viberouter_broken_test:Provider"
"""


@pytest.fixture
def broken_plugin(tmp_path: Path) -> Iterator[None]:
    pkg = tmp_path / "broken"
    (pkg / "viberouter_broken_test").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (pkg / "viberouter_broken_test" / "__init__.py").write_text(
        "raise ImportError('this plugin is broken on purpose')\n"
    )
    pip("install", "--no-deps", "--no-build-isolation", str(pkg))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        pip("uninstall", "-y", "viberouter-broken-test")
        importlib.invalidate_caches()


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router_core.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_broken_plugin_is_reported_and_skipped(broken_plugin: None, tmp_path: Path) -> None:
    listed = cli("plugins", "--json")
    assert listed.returncode == 0
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert "this plugin is broken on purpose" in plugins["broken"]["error"]
    assert plugins["echo"]["error"] is None  # the others still load

    ok = tmp_path / "ok.toml"
    ok.write_text('[providers.echo]\nplugin = "echo"\n')
    assert cli("--config", str(ok), "check-config").returncode == 0

    uses_it = tmp_path / "broken.toml"
    uses_it.write_text('[providers.b]\nplugin = "broken"\n')
    out = cli("--config", str(uses_it), "check-config")
    assert out.returncode == 4
    assert "cannot be used" in out.stderr and "broken on purpose" in out.stderr
