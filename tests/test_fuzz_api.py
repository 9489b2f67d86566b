"""Schemathesis against the live router, from the spec the router serves.

Bounded and reproducible: a fixed seed, a fixed number of examples per operation
and generation mode (valid and invalid inputs), no example database. Checks: no
5xx, every response matches the spec (status, body schema), and every 4xx/5xx
body is exactly ``{"error": <known code>, "message": <text>}``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from router_core.errors import ALL_CODES
from tests.router_harness import RunningRouter, router_settings, start_router

SEED = 20240611
#: Examples per (operation, generation mode); keeps the run well under a minute.
EXAMPLES = {
    "createChatCompletion": 60,
    "listModels": 10,
    "retrieveModel": 25,
    "getOpenApi": 3,
    "createResponse": 40,
    "retrieveResponse": 10,
    "deleteResponse": 10,
    "createEmbedding": 30,
    "createMessage": 40,
    "countMessageTokens": 15,
}


class ThreadedRouter:
    """The real router on its own event loop in a thread, so Schemathesis's
    blocking client can call it from the test's thread."""

    def __init__(self, tmp: Path) -> None:
        self._settings = router_settings(tmp)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.router: RunningRouter | None = None

    def __enter__(self) -> RunningRouter:
        self._thread.start()
        self.router = asyncio.run_coroutine_threadsafe(
            start_router(self._settings), self._loop
        ).result(30)
        return self.router

    def __exit__(self, *exc: object) -> None:
        if self.router is not None:
            asyncio.run_coroutine_threadsafe(self.router.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRouter]:
    with ThreadedRouter(tmp_path_factory.mktemp("fuzz")) as router:
        yield router


def error_body_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is exactly the documented error body."""
    if response.status_code < 400:
        return None
    body = json.loads(response.content)
    if case.path.startswith("/v1/messages"):
        # The Messages API answers in Anthropic's envelope, which its clients parse.
        assert isinstance(body, dict) and body.get("type") == "error", body
        assert set(body) <= {"type", "error", "request_id"}, body
        detail = body["error"]
        assert set(detail) == {"type", "message"} and detail["message"], body
        return True
    if case.path.startswith("/v1/responses"):
        # The Responses API answers in OpenAI's nested shape, which its clients parse.
        assert isinstance(body, dict) and set(body) == {"error"}, body
        detail = body["error"]
        assert set(detail) == {"message", "type", "param", "code"}, body
        assert isinstance(detail["message"], str) and detail["message"], body
        return True
    assert isinstance(body, dict) and set(body) == {"error", "message"}, body
    assert body["error"] in ALL_CODES, body
    assert ALL_CODES[body["error"]] == response.status_code or response.status_code in (
        404,
        405,
        408,
        413,
        502,
        504,
    ), (response.status_code, body)
    assert isinstance(body["message"], str) and body["message"], body
    return True


#: Generated fields that, combined at random, mostly make a request invalid for
#: reasons the schema cannot express; a steered case drops them.
_RISKY = (
    "models",
    "stream_options",
    "top_logprobs",
    "tool_choice",
    "transforms",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "audio",
    "modalities",
    "prediction",
)


def steer(case: Any) -> None:
    """Point half of the generated cases at a real model with role-valid messages,
    so the fuzz also reaches the success paths (random model names only ever reach
    invalid_model, random message mixes mostly invalid_request)."""
    params = case.path_parameters
    model_id = params.get("model_id") if isinstance(params, dict) else None
    if isinstance(model_id, str) and len(model_id) % 2 == 0:
        params["model_id"] = "echo"
    body = case.body
    messages = body.get("messages") if isinstance(body, dict) else None
    if isinstance(messages, list) and len(messages) % 2 == 0:
        body["model"] = "echo"
        for key in _RISKY:
            body.pop(key, None)
        texts = [m.get("content") for m in messages if isinstance(m, dict)]
        body["messages"] = [
            {"role": "user", "content": t if isinstance(t, str) else "hi"} for t in texts
        ] or [{"role": "user", "content": "hi"}]


def fuzz(op: Any, mode: GenerationMode, examples: int, auth: dict[str, str]) -> set[int]:
    """Run ``examples`` generated cases of one operation; the statuses seen."""
    statuses: set[int] = set()

    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @hypothesis.given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        steer(case)
        response = case.call_and_validate(
            headers=auth,
            checks=[not_a_server_error, response_schema_conformance],
            additional_checks=[error_body_shape],
            timeout=10,
        )
        statuses.add(response.status_code)

    run()
    return statuses


def test_fuzz_the_public_api(live: RunningRouter) -> None:
    schema = schemathesis.openapi.from_url(live.url + "/v1/openapi.json")
    auth = {"Authorization": f"Bearer {live.key}"}
    seen: dict[str, set[int]] = {}
    operations = [r.ok() for r in schema.get_all_operations()]
    found = {op.definition.raw["operationId"] for op in operations}
    assert found <= set(EXAMPLES)  # every operation the document declares is fuzzed
    assert {"createChatCompletion", "createResponse", "createEmbedding", "createMessage"} <= found
    for op in operations:
        op_id = op.definition.raw["operationId"]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            seen[f"{op_id}:{mode.value}"] = fuzz(op, mode, EXAMPLES[op_id], auth)
    # the fuzz reached both the success and the refusal paths of the chat endpoint
    assert 200 in seen["createChatCompletion:positive"]
    assert seen["createChatCompletion:negative"] & {400, 413}
    assert 200 in seen["listModels:positive"]
    assert {200, 404} <= seen["retrieveModel:positive"]
