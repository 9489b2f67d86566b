"""The model-list request and its answer (model discovery, contract 2.3)."""

from __future__ import annotations

import pytest
from viberouter_openai.provider import OpenAIProvider
from viberouter_openai.settings import OpenAISettings

from router_core.plugin_api import ModelError

# As OpenAI answers GET /v1/models (trimmed); vLLM and Ollama's /v1 add fields of their own.
LISTED = (
    b'{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1715367049,'
    b'"owned_by":"system"},{"id":"llama3:8b","object":"model","created":1700000000,'
    b'"owned_by":"library","root":"llama3:8b","max_model_len":8192}]}'
)


def test_request_lists_models_with_the_providers_credentials() -> None:
    provider = OpenAIProvider(
        OpenAISettings(base_url="http://127.0.0.1:8000/v1/", api_key="sk-x", organization="org")
    )
    req = provider.build_models_request()
    assert (req.method, req.url, req.body, req.framing) == (
        "GET",
        "http://127.0.0.1:8000/v1/models",
        b"",
        "json",
    )
    assert req.headers["Authorization"] == "Bearer sk-x"
    assert req.headers["OpenAI-Organization"] == "org"


def test_answer_gives_the_ids_in_order() -> None:
    provider = OpenAIProvider(OpenAISettings())
    assert provider.parse_models_response(LISTED) == ["gpt-4o", "llama3:8b"]
    assert provider.parse_models_response(b'{"object":"list","data":[]}') == []


@pytest.mark.parametrize("body", [b"", b"<html>", b'{"data": 3}', b'{"models": []}', b"\xff"])
def test_garbage_is_a_model_error(body: bytes) -> None:
    with pytest.raises(ModelError):
        OpenAIProvider(OpenAISettings()).parse_models_response(body)
