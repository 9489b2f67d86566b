"""Core upstream I/O: the shared ClientSession and the framing readers.

Readers are incremental: bytes arrive in arbitrary slices, so they buffer bytes and
split on line breaks before decoding. ``\\r`` and ``\\n`` never occur inside a
multi-byte UTF-8 sequence, so decoding whole lines never splits a character.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from router_core.errors import InvalidRequest, ModelError, UpstreamTimeout
from router_core.plugin_api import (
    LocalResponse,
    ProviderPlugin,
    UpstreamEvent,
    UpstreamRequest,
)
from router_core.settings import UpstreamSettings


class EventDecoder(Protocol):
    def feed(self, data: bytes) -> list[UpstreamEvent]: ...
    def close(self) -> list[UpstreamEvent]: ...


class SSEDecoder:
    """WHATWG server-sent events: comments dropped, ``data:`` lines joined with
    ``\\n``, split on the first colon with one leading space removed; an event is
    dispatched at a blank line; CRLF, LF and CR all end a line."""

    __slots__ = ("_buf", "_data", "_event", "_max", "_pending_cr", "_size")

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._max = max_event_bytes
        self._size = 0
        self._pending_cr = False

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        if not data:
            return []
        if self._pending_cr and data.startswith(b"\n"):
            # the previous slice ended with the CR of a CRLF pair
            data = data[1:]
        self._pending_cr = False
        buf = self._buf + data if self._buf else data
        out: list[UpstreamEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find(b"\n", start)
            cr = buf.find(b"\r", start, nl if nl >= 0 else n)
            if cr >= 0:
                end = cr
                nxt = cr + 1
                if nxt < n and buf[nxt] == 0x0A:
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            elif nl >= 0:
                end, nxt = nl, nl + 1
            else:
                break
            self._line(buf[start:end], out)
            start = nxt
        self._buf = buf[start:]
        if len(self._buf) + self._size > self._max:
            raise ModelError(
                "The model provider sent an oversized event",
                detail=f"SSE event larger than {self._max} bytes",
                retryable=False,
            )
        return out

    def _line(self, line: bytes, out: list[UpstreamEvent]) -> None:
        if not line:
            if self._data:
                out.append(UpstreamEvent("\n".join(self._data), self._event))
            self._data = []
            self._event = ""
            self._size = 0
            return
        if line[0] == 0x3A:  # ':' comment / keep-alive
            return
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._size += len(value)
            if self._size > self._max:
                raise ModelError(
                    "The model provider sent an oversized event",
                    detail=f"SSE event larger than {self._max} bytes",
                    retryable=False,
                )
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        # id:, retry: and unknown fields carry nothing we use

    def close(self) -> list[UpstreamEvent]:
        out: list[UpstreamEvent] = []
        if self._buf:
            self._line(self._buf, out)
            self._buf = b""
        # a final event without its blank line still counts (some servers just close)
        self._line(b"", out)
        return out


class NDJSONDecoder:
    """Newline-delimited JSON: one event per non-empty line."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_event_bytes: int = 8 * 1024 * 1024) -> None:
        self._buf = b""
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[UpstreamEvent]:
        buf = self._buf + data if self._buf else data
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        if len(self._buf) > self._max:
            raise ModelError(
                "The model provider sent an oversized event",
                detail=f"NDJSON line larger than {self._max} bytes",
                retryable=False,
            )
        return [
            UpstreamEvent(s.decode("utf-8", "replace")) for line in lines if (s := line.strip())
        ]

    def close(self) -> list[UpstreamEvent]:
        rest, self._buf = self._buf.strip(), b""
        return [UpstreamEvent(rest.decode("utf-8", "replace"))] if rest else []


def make_decoder(framing: str, max_event_bytes: int) -> EventDecoder:
    if framing == "ndjson":
        return NDJSONDecoder(max_event_bytes)
    return SSEDecoder(max_event_bytes)


@dataclass(slots=True)
class UpstreamResponse:
    """An upstream answer whose status and headers have arrived."""

    status: int
    headers: Mapping[str, str]
    _chunks: AsyncIterator[bytes]
    _close: aiohttp.ClientResponse | None
    idle_timeout: float
    max_body: int
    #: In-process upstreams answer "headers" at once; their first read is the first byte.
    first_timeout: float | None = None

    async def read(self) -> bytes:
        """The whole body (bounded by ``max_body``)."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.iter_chunks():
            size += len(chunk)
            if size > self.max_body:
                raise ModelError(
                    "The model provider sent an oversized response",
                    detail=f"body larger than {self.max_body} bytes",
                    retryable=False,
                )
            parts.append(chunk)
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        it = self._chunks.__aiter__()
        while True:
            try:
                if self._close is not None:
                    # aiohttp's sock_read timeout already bounds each read
                    chunk = await it.__anext__()
                else:
                    limit = self.first_timeout or self.idle_timeout
                    self.first_timeout = None
                    async with asyncio.timeout(limit):
                        chunk = await it.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError as exc:
                raise UpstreamTimeout(detail="idle timeout between upstream reads") from exc
            except aiohttp.ClientPayloadError as exc:
                raise ModelError(
                    "The model provider closed the connection mid-response", detail=str(exc)
                ) from exc
            except aiohttp.ClientError as exc:
                raise ModelError("The model provider connection failed", detail=str(exc)) from exc
            yield chunk

    def release(self) -> None:
        """Close the upstream connection now (the body will not be read to its end)."""
        if self._close is not None:
            self._close.close()
        else:
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                # local generators: schedule their cleanup; nothing to wait for
                task = asyncio.ensure_future(aclose())
                task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


class UpstreamClient:
    """One pooled ClientSession for every upstream call of this process."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout_s,
            sock_read=settings.idle_timeout_s,
        )

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._settings.pool_size,
            limit_per_host=self._settings.pool_per_host,
            keepalive_timeout=30,
            enable_cleanup_closed=True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            auto_decompress=True,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        plugin: ProviderPlugin,
        req: UpstreamRequest,
        *,
        first_byte_timeout: float,
        idle_timeout: float,
        connect_timeout: float | None = None,
    ) -> UpstreamResponse:
        """Send ``req`` and wait for status + headers. Connection failures and
        timeouts become RouterErrors (retryable)."""
        max_body = self._settings.max_event_bytes
        if req.url.startswith("local:"):
            local: LocalResponse = plugin.serve_local(req)
            return UpstreamResponse(
                local.status,
                local.headers,
                local.body,
                None,
                idle_timeout,
                max_body,
                first_byte_timeout,
            )
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        try:
            async with asyncio.timeout(first_byte_timeout):
                resp = await self._session.request(
                    req.method,
                    req.url,
                    data=req.body,
                    headers=req.headers,
                    # Never follow: a redirect would carry provider keys (x-api-key ...)
                    # and the body to a host the operator did not configure.
                    allow_redirects=False,
                    timeout=self._timeout
                    if connect_timeout is None and idle_timeout == self._settings.idle_timeout_s
                    else aiohttp.ClientTimeout(
                        total=None,
                        connect=connect_timeout or self._settings.connect_timeout_s,
                        sock_read=idle_timeout,
                    ),
                )
        except TimeoutError as exc:
            raise UpstreamTimeout(detail=f"no answer from {_host(req.url)} in time") from exc
        except aiohttp.InvalidURL as exc:
            raise InvalidRequest("The deployment has an invalid upstream URL") from exc
        except aiohttp.ClientError as exc:
            raise ModelError(
                "The model provider could not be reached",
                detail=f"{_host(req.url)}: {exc.__class__.__name__}: {exc}",
            ) from exc
        return UpstreamResponse(
            resp.status, resp.headers, resp.content.iter_any(), resp, idle_timeout, max_body
        )


def _host(url: str) -> str:
    # for logs: scheme://host:port only, never query strings (may carry keys)
    head, _, rest = url.partition("://")
    return f"{head}://{rest.split('/', 1)[0]}"
