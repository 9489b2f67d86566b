"""docs/examples/curl: every script runs (bash, curl, jq) against a live router (echo
provider) and prints what a reader is told it prints."""

from __future__ import annotations

import os

import pytest

from tests.services import require_binary
from tests.test_examples_common import (
    CHECKS,
    EXAMPLES,
    ExampleRouter,
    example_router,
)

__all__ = ["example_router"]  # the fixture, re-exported for pytest

CURL = EXAMPLES / "curl"


@pytest.mark.parametrize("topic", list(CHECKS))
async def test_curl_example(example_router: ExampleRouter, topic: str) -> None:
    bash = require_binary("bash", "bash")
    require_binary("curl", "curl")
    require_binary("jq", "jq")
    run = await example_router.run(bash, f"{topic}.sh", cwd=CURL)
    CHECKS[topic](run.check())


async def test_curl_example_without_key_says_what_is_missing(
    example_router: ExampleRouter,
) -> None:
    bash = require_binary("bash", "bash")
    del example_router.env["VIBEROUTER_API_KEY"]
    run = await example_router.run(bash, "chat.sh", cwd=CURL)
    assert run.returncode != 0
    assert "set VIBEROUTER_API_KEY" in run.stderr


def test_every_curl_example_is_tested_and_executable() -> None:
    scripts = list(CURL.glob("*.sh"))
    assert {p.stem for p in scripts} == set(CHECKS)
    assert all(os.access(p, os.X_OK) for p in scripts)
