"""Image URLs to Gemini: the router fetches them under [guards.image_fetch] and the
fake Gemini receives inlineData; refused for loopback unless allow_private says so,
for oversized, non-image and slow answers, for hosts off the allow-list, redirects.

The image server is plain HTTP on 127.0.0.1, which the policy allows only through its
two test-only escapes (allow_http, allow_private): the refusals below are what the
default policy does with such a URL."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from router_core.image_fetch import public
from tests import plugin_fakes
from tests.router_harness import RunningRouter, post_chat, router_settings, start_router

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
fake_gemini = plugin_fakes.load("gemini", "fake_gemini")

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 48
FIELD = "messages[0].content[1].image_url.url"

CONFIG = """
[providers.gemini]
plugin = "gemini"
settings = {{ base_url = "{gemini}/v1beta", api_key = "test-gemini-key" }}

[guards.image_fetch]
enabled = true
allow_http = true
allowed_hosts = {hosts}
allow_private = {private}
max_bytes = 1000
timeout_s = 0.5
"""


def _image_server() -> web.Application:
    async def png(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG" + b"\x00" * 5000, content_type="image/png")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=PNG, content_type="image/png")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/cat.png")

    app = web.Application()
    for path, handler in [
        ("/cat.png", png),
        ("/big.png", big),
        ("/page", page),
        ("/slow.png", slow),
        ("/moved", moved),
    ]:
        app.router.add_get(path, handler)
    return app


async def _world(
    tmp: Path,
    aiohttp_server: ServerFactory,
    *,
    private: str = '["127.0.0.1"]',
    hosts: str = '["127.0.0.1"]',
) -> tuple[RunningRouter, web.Application, str]:
    images = await aiohttp_server(_image_server())
    gemini = await aiohttp_server(
        fake_gemini.make_app(
            [fake_gemini.FakeReply.from_file(plugin_fakes.data("gemini", "response_text.json"))]
        )
    )
    toml = CONFIG.format(gemini=str(gemini.make_url("")).rstrip("/"), hosts=hosts, private=private)
    router = await start_router(router_settings(tmp, extra_toml=toml))
    return router, gemini.app, str(images.make_url("")).rstrip("/")


def _ask(url: str) -> dict[str, Any]:
    return {
        "model": "gemini/gemini-2.5-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }


async def test_an_allowed_image_reaches_gemini_inline(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    router, gemini, images = await _world(tmp_path, aiohttp_server)
    try:
        reply = await post_chat(router, _ask(images + "/cat.png"))
    finally:
        await router.stop()
    assert reply.status == 200, reply.body
    [call] = gemini[fake_gemini.CALLS]
    parts = call.body["contents"][0]["parts"]
    inline = next(p["inlineData"] for p in parts if "inlineData" in p)
    assert inline["mimeType"] == "image/png"
    assert base64.b64decode(inline["data"]) == PNG


@pytest.mark.parametrize(
    ("path", "private", "hosts", "says"),
    [
        # loopback without the escape: refused after resolution
        ("/cat.png", "[]", '["127.0.0.1"]', "127.0.0.1 is not a public address"),
        ("/big.png", '["127.0.0.1"]', '["127.0.0.1"]', "larger than 1000 bytes"),
        ("/page", '["127.0.0.1"]', '["127.0.0.1"]', "'text/html', not an image"),
        ("/slow.png", '["127.0.0.1"]', '["127.0.0.1"]', "not fetched within 0.5 seconds"),
        ("/moved", '["127.0.0.1"]', '["127.0.0.1"]', "answered 302 (redirects are not followed)"),
        ("/cat.png", '["127.0.0.1"]', '["images.example.com"]', "not fetched from '127.0.0.1'"),
    ],
)
async def test_refusals_are_400_naming_the_field(
    tmp_path: Path, aiohttp_server: ServerFactory, path: str, private: str, hosts: str, says: str
) -> None:
    router, gemini, images = await _world(tmp_path, aiohttp_server, private=private, hosts=hosts)
    try:
        reply = await post_chat(router, _ask(images + path))
    finally:
        await router.stop()
    assert reply.status == 400
    body = reply.json()
    assert body["error"] == "invalid_request"
    assert body["message"].startswith(FIELD + ": ") and says in body["message"]
    assert gemini[fake_gemini.CALLS] == []  # nothing reached the upstream


async def test_a_name_that_resolves_to_loopback_is_refused_at_connect(
    tmp_path: Path, aiohttp_server: ServerFactory
) -> None:
    # "localhost" passes the host glob; its addresses are checked by the resolver the
    # connection uses, so the refusal happens after DNS, not on the name.
    router, gemini, images = await _world(tmp_path, aiohttp_server, private="[]", hosts='["*"]')
    try:
        reply = await post_chat(router, _ask(images.replace("127.0.0.1", "localhost") + "/cat.png"))
    finally:
        await router.stop()
    assert reply.status == 400
    message = reply.json()["message"]
    assert message.startswith(FIELD) and "localhost resolves to" in message
    assert "not a public address" in message and gemini[fake_gemini.CALLS] == []


async def test_off_by_default_the_plugin_refuses_the_url(tmp_path: Path) -> None:
    toml = """
[providers.gemini]
plugin = "gemini"
settings = { base_url = "http://127.0.0.1:9/v1beta", api_key = "k" }
"""
    router = await start_router(router_settings(tmp_path, extra_toml=toml))
    try:
        reply = await post_chat(router, _ask("https://images.example.com/cat.png"))
    finally:
        await router.stop()
    assert reply.status == 400 and "data: URL" in reply.json()["message"]


@pytest.mark.parametrize(
    ("address", "fetched"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # shared address space
        ("224.0.0.1", False),  # multicast
        ("240.0.0.1", False),  # reserved
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("ff02::1", False),
    ],
)
def test_public_addresses_only(address: str, fetched: bool) -> None:
    assert public(ipaddress.ip_address(address)) is fetched


def test_allow_private_opens_only_its_networks() -> None:
    allow = (ipaddress.ip_network("10.0.0.0/8"),)
    assert public(ipaddress.ip_address("10.9.9.9"), allow)
    assert not public(ipaddress.ip_address("192.168.0.1"), allow)
