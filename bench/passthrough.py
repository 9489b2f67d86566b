"""The "physical limit" baseline: a bare aiohttp proxy with nothing but forwarding.

Same stack as the router (aiohttp server + pooled ClientSession, uvloop), none of its
work: no auth, parsing, limits, translation, metrics or logs. Streams are relayed as
raw byte slices. Whatever the router adds on top of this is the cost of its features.

Run: ``python -m bench.passthrough --port 9001 --upstream http://127.0.0.1:9000``.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bench.loop import run_server

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)
_FORWARD_HEADERS = ("Content-Type", "Accept", "Authorization")


async def forward(request: web.Request) -> web.StreamResponse:
    """Send the body upstream and copy the answer back, streaming if it streams."""
    body = await request.read()
    headers = {h: v for h in _FORWARD_HEADERS if (v := request.headers.get(h))}
    session = request.app[SESSION]
    async with session.post(
        request.app[UPSTREAM] + request.path, data=body, headers=headers
    ) as upstream:
        ctype = upstream.headers.get("Content-Type", "application/json")
        if not ctype.startswith("text/event-stream"):
            return web.Response(
                body=await upstream.read(), status=upstream.status, headers={"Content-Type": ctype}
            )
        out = web.StreamResponse(status=upstream.status, headers={"Content-Type": ctype})
        await out.prepare(request)
        async for data in upstream.content.iter_any():
            await out.write(data)
        await out.write_eof()
        return out


async def _session(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",)) as s:
        app[SESSION] = s
        yield


def make_app(upstream: str) -> web.Application:
    """The proxy as an aiohttp application forwarding to ``upstream``."""
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.router.add_post("/v1/chat/completions", forward)
    app.cleanup_ctx.append(_session)
    return app


def main() -> None:
    """Command line entry: ``python -m bench.passthrough``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:9000")
    args = parser.parse_args()
    run_server(make_app(args.upstream), args.port)


if __name__ == "__main__":
    main()
