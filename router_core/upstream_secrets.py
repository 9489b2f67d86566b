"""No credential in any byte a client receives.

Text an upstream wrote (error messages a plugin's ``map_error`` or
``parse_response`` quote, in-band stream errors) may repeat the credential the
router sent it. Before such a RouterError leaves dispatch its message (and its
operator detail) is scrubbed of the attempt's credentials: the value of every
header and URL query parameter whose name says it is a secret (``Authorization``,
``x-api-key``, ``x-goog-api-key``, ``?key=`` ...), whole (``Bearer <secret>``) and
without its scheme (``<secret>``). Values shorter than 4 characters are not
treated as secrets (they would garble every message and protect nothing).
Computed only when an attempt fails: a request that succeeds pays nothing. Answers
relayed natively (the upstream's own bytes) are scrubbed piece by piece with
:func:`scrub_bytes`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from router_core.errors import RouterError
from router_core.logs import REDACTED, is_secret_name
from router_core.plugin_api import UpstreamRequest

_MIN_SECRET = 4
_SCHEMES = ("bearer ", "basic ", "token ")


def _forms(value: str) -> list[str]:
    value = value.strip()
    out = [value]
    low = value.lower()
    for scheme in _SCHEMES:
        if low.startswith(scheme):
            out.append(value[len(scheme) :].strip())
    return [v for v in out if len(v) >= _MIN_SECRET]


def request_secrets(req: UpstreamRequest) -> tuple[str, ...]:
    """The credentials ``req`` carries, longest first (see the module docstring)."""
    found: set[str] = set()
    for name, value in req.headers.items():
        if is_secret_name(name):
            found.update(_forms(value))
    query = urlsplit(req.url).query
    if query:
        for name, value in parse_qsl(query, keep_blank_values=False):
            if is_secret_name(name):
                found.update(_forms(value))
    return tuple(sorted(found, key=len, reverse=True))


def scrub_text(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every one of ``secrets`` replaced."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub_error(exc: RouterError, req: UpstreamRequest | None) -> RouterError:
    """``exc`` with the credentials of ``req`` removed from its message and detail
    (in place; returned for convenience)."""
    if req is None:
        return exc
    secrets = request_secrets(req)
    if not secrets:
        return exc
    exc.message = scrub_text(exc.message, secrets)
    if exc.detail is not None:
        exc.detail = scrub_text(exc.detail, secrets)
    exc.args = (exc.message,)
    return exc


_REDACTED_BYTES = REDACTED.encode()


def secret_bytes(req: UpstreamRequest) -> tuple[bytes, ...]:
    """:func:`request_secrets` as bytes, for answers relayed as the upstream wrote them
    (native pass-through: computed once per attempt, checked per relayed piece)."""
    return tuple(secret.encode() for secret in request_secrets(req))


def scrub_bytes(data: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """``data`` with every one of ``secrets`` replaced (a C-level search per secret, so
    an answer that quotes none costs next to nothing)."""
    for secret in secrets:
        if secret in data:
            data = data.replace(secret, _REDACTED_BYTES)
    return data
