"""Images by URL for providers that take them only inline (contract 2.5,
``needs_inline_images``: Gemini): the router fetches each remote image of a request and
hands the plugin a ``data:`` URL instead.

SSRF-sensitive (docs/guards.md): clients choose the URLs, so the fetch runs only when
``[guards.image_fetch]`` enables it, only to hosts its globs allow, and only to public
addresses: every address a host name resolves to must be public (not private, loopback,
link-local, multicast, reserved, unspecified or shared), checked inside the connection's
own resolver, so the address connected to is the address checked (a DNS answer that
changes between a check and the connect cannot slip through); IP literals are checked
before. No redirects are followed, no proxy is taken from the environment, no cookies
kept; the answer must be 200 with an allowed image media type, within ``max_bytes`` and
``timeout_s``. ``allow_private`` and ``allow_http`` open holes on purpose (tests,
trusted private networks). Every refusal is 400 invalid_request naming the field.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import ipaddress
import socket
from collections.abc import Iterator

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from router_core.api.chat import ChatRequest, ImagePart, Message
from router_core.errors import InvalidRequest
from router_core.guard_settings import ImageFetchSettings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_CHUNK = 64 * 1024


class AddressRefused(OSError):
    """A host resolved to an address the policy does not fetch from."""


def public(addr: Address, allow: tuple[Network, ...] = ()) -> bool:
    """Whether the policy fetches from ``addr``: a public address, or one inside an
    ``allow_private`` network. IPv4 mapped into IPv6 is judged as IPv4."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is not None:
            addr = embedded
    if any(addr in net for net in allow):
        return True
    return addr.is_global and not (
        addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_private
    )


class _CheckedResolver(AbstractResolver):
    """Resolves like the system does, then refuses the host when any of its addresses
    is not public: aiohttp connects only to the addresses returned here."""

    def __init__(self, fetcher: ImageFetcher) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._fetcher = fetcher

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for r in results:
            addr = ipaddress.ip_address(r["host"].split("%", 1)[0])
            if not public(addr, self._fetcher.allow_private):
                raise AddressRefused(f"{host} resolves to {addr}, which is not a public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


class ImageFetcher:
    """The router's image fetches: one client session of its own (never the
    upstreams'), opened on first use, closed with the app."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        #: The policy's ``allow_private`` networks, as of the latest fetch.
        self.allow_private: tuple[Network, ...] = ()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def inline(self, request: ChatRequest, policy: ImageFetchSettings) -> ChatRequest:
        """``request`` with every remote image URL replaced by the fetched image as a
        ``data:`` URL (unchanged when the policy is off or there is none)."""
        if not policy.enabled:
            return request
        found = list(_remote_images(request))
        if not found:
            return request
        if len(found) > policy.max_images:
            where = found[policy.max_images][0]
            raise InvalidRequest(f"{where}: at most {policy.max_images} image URLs per request")
        self.allow_private = _networks(policy.allow_private)
        fetched = await asyncio.gather(
            *(self._fetch(url, where, policy) for where, url in found), return_exceptions=True
        )
        inlined: dict[str, str] = {}
        for (_, url), outcome in zip(found, fetched, strict=True):
            if isinstance(outcome, BaseException):
                raise outcome
            inlined[url] = outcome
        return _replace(request, inlined)

    async def _fetch(self, url: str, where: str, policy: ImageFetchSettings) -> str:
        target = _checked_url(url, where, policy, self.allow_private)
        try:
            async with asyncio.timeout(policy.timeout_s):
                return await self._get(target, where, policy)
        except TimeoutError:
            raise InvalidRequest(
                f"{where}: the image was not fetched within {policy.timeout_s:g} seconds"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error if isinstance(exc.os_error, AddressRefused) else exc.strerror
            raise InvalidRequest(f"{where}: the image cannot be fetched: {reason}") from exc
        except aiohttp.ClientError as exc:
            raise InvalidRequest(f"{where}: the image cannot be fetched") from exc

    async def _get(self, url: URL, where: str, policy: ImageFetchSettings) -> str:
        session = self._open()
        headers = {"Accept": ", ".join(policy.content_types), "Accept-Encoding": "identity"}
        async with session.get(url, headers=headers, allow_redirects=False) as resp:
            if resp.status != 200:
                raise InvalidRequest(
                    f"{where}: the image URL answered {resp.status} (redirects are not followed)"
                )
            media = resp.content_type.lower()
            if media not in policy.content_types:
                allowed = ", ".join(policy.content_types)
                raise InvalidRequest(f"{where}: the URL is {media!r}, not an image ({allowed})")
            body = await _read_capped(resp, policy.max_bytes, where)
        return f"data:{media};base64,{base64.b64encode(body).decode('ascii')}"

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                resolver=_CheckedResolver(self), use_dns_cache=False, limit=64
            )
            self._session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session


async def _read_capped(resp: aiohttp.ClientResponse, limit: int, where: str) -> bytes:
    too_big = InvalidRequest(f"{where}: the image is larger than {limit} bytes")
    if resp.content_length is not None and resp.content_length > limit:
        raise too_big
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise too_big
    return bytes(body)


def _checked_url(
    url: str, where: str, policy: ImageFetchSettings, allow: tuple[Network, ...]
) -> URL:
    """The URL to fetch, or 400 when its scheme or host is not allowed (an IP literal
    is judged here: it never reaches the resolver)."""
    try:
        parsed = URL(url)
    except ValueError:
        raise InvalidRequest(f"{where}: not a valid URL") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parsed.scheme not in schemes:
        raise InvalidRequest(f"{where}: only {' or '.join(schemes)} image URLs are fetched")
    host = (parsed.host or "").lower()
    if not host or not any(fnmatch.fnmatchcase(host, g.lower()) for g in policy.allowed_hosts):
        raise InvalidRequest(f"{where}: images are not fetched from {host!r}")
    try:
        literal: Address | None = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None and not public(literal, allow):
        raise InvalidRequest(f"{where}: {literal} is not a public address")
    return parsed


def _networks(entries: list[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _remote_images(request: ChatRequest) -> Iterator[tuple[str, str]]:
    """(field path, url) of every image part whose URL is not a ``data:`` URL."""
    for i, message in enumerate(request.messages):
        if not isinstance(message.content, list):
            continue
        for j, part in enumerate(message.content):
            if isinstance(part, ImagePart) and not part.image_url.url.startswith("data:"):
                yield f"messages[{i}].content[{j}].image_url.url", part.image_url.url


def _replace(request: ChatRequest, urls: dict[str, str]) -> ChatRequest:
    messages: list[Message] = []
    for message in request.messages:
        if isinstance(message.content, list) and any(
            isinstance(p, ImagePart) and p.image_url.url in urls for p in message.content
        ):
            parts = [
                msgspec.structs.replace(
                    p, image_url=msgspec.structs.replace(p.image_url, url=urls[p.image_url.url])
                )
                if isinstance(p, ImagePart) and p.image_url.url in urls
                else p
                for p in message.content
            ]
            message = msgspec.structs.replace(message, content=parts)
        messages.append(message)
    return msgspec.structs.replace(request, messages=messages)


__all__ = ["AddressRefused", "ImageFetcher", "public"]
