"""GET /v1/openapi.json: served without a key, built from the wire Structs, with
the error body and rate-limit headers on every operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from router_core.errors import ALL_CODES
from router_core.limits.base import RateLimits
from router_core.openapi import build_document, openapi_bytes
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router


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
    assert set(responses) == {
        "200", "400", "401", "408", "413", "429", "500", "502", "503", "504"
    }  # fmt: skip
    assert set(responses["200"]["content"]) == {"application/json", "text/event-stream"}
    for status, resp in responses.items():
        assert "X-RateLimit-Remaining" in resp["headers"]
        if status != "200":
            schema = resp["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert "Retry-After" in responses["429"]["headers"]
    assert "Retry-After" in responses["503"]["headers"]
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


async def test_responses_and_embeddings_answers_match_the_published_schemas(
    router: RunningRouter,
) -> None:
    import jsonschema_rs

    doc = build_document()

    def validator(name: str) -> Any:
        root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
        return jsonschema_rs.validator_for(root)

    assert {"/v1/responses", "/v1/responses/{response_id}", "/v1/embeddings"} <= set(doc["paths"])
    async with aiohttp.ClientSession() as s:
        auth = {"Authorization": f"Bearer {router.key}"}
        async with s.post(
            router.base_url + "/responses", headers=auth, json={"model": "echo", "input": "hi"}
        ) as r:
            created = await r.json()
            validator("Response").validate(created)
        async with s.delete(router.base_url + "/responses/" + created["id"], headers=auth) as r:
            validator("DeletedResponse").validate(await r.json())
        async with s.get(router.base_url + "/responses/" + created["id"], headers=auth) as r:
            assert r.status == 404
            validator("OpenAIErrorBody").validate(await r.json())
        async with s.post(
            router.base_url + "/embeddings", headers=auth, json={"model": "echo", "input": ["a"]}
        ) as r:
            validator("EmbeddingResponse").validate(await r.json())


def say(text: str) -> dict[str, Any]:
    return {"model": "echo", "messages": [{"role": "user", "content": text}]}


async def test_every_status_the_router_returns_is_declared(tmp_path: Path) -> None:
    """Drive the real router into each answer it gives and check the document
    declares that status for that operation (and Retry-After on 503)."""
    settings = router_settings(
        tmp_path,
        first_byte=0.3,
        total=2.0,
        retries=0,
        extra_toml="[routing.circuit]\nfailures = 2\ncooldown_s = 60\n"
        "panic_threshold_percent = 100\n",
    )
    small = msgspec.structs.replace(settings.server, max_body_bytes=4096)
    router = await start_router(msgspec.structs.replace(settings, server=small))
    try:
        _, tight = await router.state.accounts.create_key(
            router.account_id, "tight", limits=RateLimits(rpm=1)
        )
        seen: dict[tuple[str, str], set[int]] = {}
        chat = ("/v1/chat/completions", "post")

        def saw(op: tuple[str, str], status: int) -> None:
            seen.setdefault(op, set()).add(status)

        saw(chat, (await post_chat(router, say("hi"))).status)
        saw(chat, (await post_chat(router, b'{"model":')).status)
        saw(chat, (await post_chat(router, say("hi"), key="vr-wrong")).status)
        saw(chat, (await post_chat(router, b"{" + b" " * 8192 + b"}")).status)
        for _ in range(2):
            saw(chat, (await post_chat(router, say("hi"), key=tight)).status)
        saw(chat, (await post_chat(router, say("[[echo:hang]] wait"))).status)
        saw(chat, (await post_chat(router, say("[[echo:status=500]] fail"))).status)
        unavailable = await post_chat(router, say("hi"))  # the circuit is open now
        saw(chat, unavailable.status)
        assert unavailable.status == 503 and int(unavailable.headers["Retry-After"]) >= 1
        async with aiohttp.ClientSession() as s:
            for path, op, key in (
                ("/v1/models", "/v1/models", router.key),
                ("/v1/models", "/v1/models", "vr-wrong"),
                ("/v1/models/echo", "/v1/models/{model_id}", router.key),
                ("/v1/models/nope", "/v1/models/{model_id}", router.key),
                ("/v1/models/echo", "/v1/models/{model_id}", "vr-wrong"),
                ("/v1/openapi.json", "/v1/openapi.json", ""),
            ):
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                async with s.get(router.url + path, headers=headers) as r:
                    saw((op, "get"), r.status)
            async with s.get(router.url + "/v1/openapi.json") as r:
                doc = await r.json()
        assert seen[chat] == {200, 400, 401, 413, 429, 502, 503, 504}
        for (path, method), statuses in seen.items():
            declared = doc["paths"][path][method]["responses"]
            assert {str(s) for s in statuses} <= set(declared), (path, statuses)
        assert "Retry-After" in doc["paths"][chat[0]]["post"]["responses"]["503"]["headers"]
    finally:
        await router.stop()


async def test_405_names_the_allowed_methods(router: RunningRouter) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(router.base_url + "/chat/completions") as r:
            assert r.status == 405
            assert r.headers["Allow"] == "POST"
            assert (await r.json())["error"] == "invalid_request"
        async with s.delete(router.base_url + "/models") as r:
            assert r.status == 405
            assert set(r.headers["Allow"].split(",")) == {"GET", "HEAD"}
