"""Cross-origin requests from browsers (CORS): off unless ``[cors] allow_origins`` is set.

When on, two pieces are installed and nothing else changes on the hot path:
* an OPTIONS route for every path answers preflights (before auth: a preflight carries
  no credentials) with the allowed methods, headers and max-age, for allowed origins;
* a response-prepare hook adds ``Access-Control-Allow-Origin``, ``Vary: Origin`` and the
  exposed headers to every answer for an allowed origin, streams included (the hook runs
  right before the headers are written, so an SSE response gets them too).
An origin not on the list gets no CORS headers, so the browser refuses the answer.
"""

from __future__ import annotations

from aiohttp import web

from router_core.cors_settings import CorsSettings

#: Headers a browser client may read from our answers (rate limits, retry hints, ids).
EXPOSED = ", ".join(
    (
        "X-Request-ID",
        "Retry-After",
        "retry-after-ms",
        "x-should-retry",
        "X-RateLimit-Limit-Requests",
        "X-RateLimit-Remaining-Requests",
        "X-RateLimit-Reset-Requests",
        "X-RateLimit-Limit-Tokens",
        "X-RateLimit-Remaining-Tokens",
        "X-RateLimit-Reset-Tokens",
        "X-VibeRouter-Provider",
        "X-VibeRouter-Deployment",
    )
)
METHODS = "GET, POST, DELETE, OPTIONS"


class _Policy:
    __slots__ = ("any_origin", "headers", "max_age", "origins")

    def __init__(self, settings: CorsSettings) -> None:
        self.any_origin = "*" in settings.allow_origins
        self.origins = frozenset(o.rstrip("/") for o in settings.allow_origins)
        self.headers = None if "*" in settings.allow_headers else ", ".join(settings.allow_headers)
        self.max_age = str(settings.max_age_s)

    def allowed(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for ``origin``, or None (not allowed)."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin in self.origins else None


_POLICY = web.AppKey("cors_policy", _Policy)


def install(app: web.Application, settings: CorsSettings) -> None:
    """Answer preflights and tag answers for allowed origins; nothing when CORS is off."""
    if not settings.allow_origins:
        return
    app[_POLICY] = _Policy(settings)
    app.router.add_route("OPTIONS", "/{tail:.*}", _preflight)
    app.on_response_prepare.append(_tag)


async def _preflight(request: web.Request) -> web.Response:
    policy = request.app[_POLICY]
    allow = policy.allowed(request.headers.get("Origin"))
    if allow is None or "Access-Control-Request-Method" not in request.headers:
        return web.Response(status=204, headers={"Vary": "Origin"})
    asked = request.headers.get("Access-Control-Request-Headers", "")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Origin": allow,
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": asked if policy.headers is None else policy.headers,
            "Access-Control-Max-Age": policy.max_age,
            "Vary": "Origin",
        },
    )


async def _tag(request: web.Request, response: web.StreamResponse) -> None:
    allow = request.app[_POLICY].allowed(request.headers.get("Origin"))
    if allow is None or request.method == "OPTIONS":
        return
    response.headers["Access-Control-Allow-Origin"] = allow
    response.headers["Access-Control-Expose-Headers"] = EXPOSED
    response.headers.add("Vary", "Origin")
