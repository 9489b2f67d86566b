"""GET /v1/openapi.json: served without a key, built from the wire Structs, with
the error body and rate-limit headers on every operation."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from router_core.errors import ALL_CODES
from router_core.openapi import build_document, openapi_bytes
from tests.router_harness import RunningRouter


async def fetch(router: RunningRouter, path: str, key: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as s, s.get(router.url + path, headers=headers) as r:
        assert r.content_type == "application/json"
        return r.status, await r.read()


async def test_served_without_a_key_and_stable(router: RunningRouter) -> None:
    status, body = await fetch(router, "/v1/openapi.json")
    assert status == 200
    doc = json.loads(body)
    assert doc["openapi"] == "3.1.0"
    assert body == (await fetch(router, "/v1/openapi.json"))[1]
    assert body == openapi_bytes(version=doc["info"]["version"])


def test_every_wire_type_is_a_component() -> None:
    schemas = build_document()["components"]["schemas"]
    for name in ("ChatRequest", "ChatCompletion", "ChatCompletionChunk", "ModelList", "ModelCard"):
        assert name in schemas
    error = schemas["ErrorBody"]
    assert error["required"] == ["error", "message"]
    assert error["additionalProperties"] is False
    assert set(error["properties"]["error"]["enum"]) == set(ALL_CODES)
    # the renamed msgspec field is published under its wire name
    assert "object" in schemas["ChatCompletion"]["properties"]
    assert "transforms" in schemas["ChatRequest"]["properties"]


def test_operations_document_errors_headers_and_security() -> None:
    doc = build_document()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key issued by `viberouter keys create`.",
    }
    chat = doc["paths"]["/v1/chat/completions"]["post"]
    assert chat["security"] == [{"bearerAuth": []}]
    responses: dict[str, Any] = chat["responses"]
    assert set(responses) == {"200", "400", "401", "408", "413", "429", "500", "502", "504"}
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    for status, resp in responses.items():
        assert "X-RateLimit-Remaining" in resp["headers"]
        if status != "200":
            schema = resp["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" not in responses["400"]["headers"]
    assert doc["paths"]["/v1/openapi.json"]["get"]["security"] == []
    assert "404" in doc["paths"]["/v1/models/{model_id}"]["get"]["responses"]


async def test_real_answers_match_the_published_schemas(router: RunningRouter) -> None:
    import jsonschema_rs

    doc = build_document()

    def validator(name: str) -> Any:
        root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        return jsonschema_rs.validator_for(root)

    async with aiohttp.ClientSession() as s:
        auth = {"Authorization": f"Bearer {router.key}"}
        async with s.post(
            router.base_url + "/chat/completions",
            headers=auth,
            json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]},
        ) as r:
            validator("ChatCompletion").validate(await r.json())
        async with s.get(router.base_url + "/models", headers=auth) as r:
            validator("ModelList").validate(await r.json())
        async with s.get(router.base_url + "/models/nope", headers=auth) as r:
            assert r.status == 404
            validator("ErrorBody").validate(await r.json())
        async with s.post(
            router.base_url + "/chat/completions",
            headers=auth,
            json={
                "model": "echo",
                "stream": True,
                "messages": [{"role": "user", "content": "hi there"}],
            },
        ) as r:
            raw = (await r.read()).decode()
    chunks = [f[6:] for f in raw.split("\n\n") if f.startswith("data: {")]
    assert chunks
    for c in chunks:
        validator("ChatCompletionChunk").validate(json.loads(c))
