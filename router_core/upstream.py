"""Core upstream I/O: the shared ClientSession, sending a request and reading its
body. Which timeout bounds which wait is decided in timeouts.py; this module applies
the per-read ones (the socket's read timeout, the in-process reader's timer) and
the caller wraps the rest.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from router_core import __version__
from router_core.errors import InvalidRequest, ModelError, RouterError, UpstreamTimeout
from router_core.plugin_api import LocalResponse, ProviderPlugin, UpstreamRequest
from router_core.settings import UpstreamSettings
from router_core.timeouts import AttemptClock, DeadlineSweep, JsonTimer, WatchSet


@dataclass(slots=True, eq=False)
class UpstreamResponse:
    """An upstream answer whose status and headers have arrived."""

    status: int
    headers: Mapping[str, str]
    #: An in-process body; None for an aiohttp response (read from ``_close.content``).
    _chunks: AsyncIterator[bytes] | None
    _close: aiohttp.ClientResponse | None
    idle_timeout: float
    max_body: int
    #: In-process upstreams answer "headers" at once; their first read is the first byte.
    first_timeout: float | None = None
    #: The failure of the connection itself while reading (a reset, a read timeout), as
    #: opposed to an error the upstream wrote into the body.
    transport_error: RouterError | None = None
    #: Bounds the silence of a flowing stream once :meth:`flowing` handed it over.
    idle_sweep: IdleSweep | None = None
    #: When the read in progress started waiting (None: no read waiting).
    waiting_since: float | None = None

    async def read(self, timer: JsonTimer | None = None) -> bytes:
        """The whole body (bounded by ``max_body``). With ``timer``, each read is
        reported to it: it bounds the silence between reads (``send(timed_reads=False)``
        leaves that to the caller's timer instead of a socket read timeout)."""
        resp = self._close
        if timer is None or resp is None:
            return await self._read_chunks()
        content = resp.content
        if content.is_eof() and content.exception() is None:
            # The whole body came with the headers (a short answer): taken from the
            # buffer in one call, without a read to wait for.
            body = content.read_nowait()
            if len(body) > self.max_body:
                raise _oversized(self.max_body)
            timer.read()
            return body
        parts: list[bytes] = []
        size = 0
        try:
            while chunk := await content.readany():
                timer.read()
                size += len(chunk)
                if size > self.max_body:
                    raise _oversized(self.max_body)
                parts.append(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.transport_error = _read_error(exc)
            raise self.transport_error from exc
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def buffered(self) -> bytes:
        """The body's bytes that arrived and are not read yet, without waiting (often
        the first events, sent with the headers); later reads start after them."""
        resp = self._close
        if resp is None:
            return b""
        try:
            return resp.content.read_nowait()
        except aiohttp.ClientError as exc:
            self.transport_error = _read_error(exc)
            raise self.transport_error from exc

    async def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        async for chunk in self.iter_chunks():
            size += len(chunk)
            if size > self.max_body:
                raise _oversized(self.max_body)
            parts.append(chunk)
        return b"".join(parts)

    async def read_chunk(self) -> bytes:
        """The body's next slice as it arrives, ``b""`` at its end. A coroutine, not a
        generator step: a stream reads one per batch. Connection failures and read
        timeouts become RouterErrors (``transport_error``)."""
        resp = self._close
        try:
            if resp is not None:
                # aiohttp's sock_read timeout bounds each read, or, once the stream
                # flows, the idle sweep (which reads waiting_since)
                self.waiting_since = time.monotonic()
                chunk = await resp.content.readany()  # b"" only at the end
                self.waiting_since = None
                return chunk
            body = self._chunks
            assert body is not None, "an in-process response has its body"
            while True:  # an in-process body may yield empty slices: not its end
                limit = self.first_timeout or self.idle_timeout
                self.first_timeout = None
                async with asyncio.timeout(limit):  # each slice, as a socket read
                    local = await anext(body, None)
                if local is None or local:
                    return local or b""
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.transport_error = _read_error(exc)
            raise self.transport_error from exc

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Every slice of the body (:meth:`read_chunk` until the end)."""
        while chunk := await self.read_chunk():
            yield chunk
            del chunk  # not held while the next read waits (a silent stream)

    def ended(self) -> bool:
        """True once the whole body arrived: reading the rest will not wait."""
        resp = self._close
        return resp is not None and resp.content.is_eof()

    def flowing(self) -> None:
        """The stream's first chunk came: from now on the process's :class:`IdleSweep`
        bounds its silences instead of aiohttp's socket read timer, which is made and
        cancelled on every packet and kept for the stream's whole life."""
        resp, sweep = self._close, self.idle_sweep
        if resp is None or sweep is None or resp.connection is None:
            return  # in-process upstream, or the body already ended
        protocol = resp.connection.protocol
        if protocol is None:
            return
        protocol.read_timeout = None
        protocol.start_timeout()  # with no read timeout: drops the armed timer
        sweep.add(self, self.idle_timeout)

    def expire_idle(self) -> None:
        """Fail the read in progress as aiohttp's own read timeout would."""
        if self._close is not None:
            self._close.content.set_exception(
                aiohttp.SocketTimeoutError("Timeout on reading data from socket")
            )

    def release(self) -> None:
        """Close the upstream connection now (the body will not be read to its end)."""
        if self.idle_sweep is not None:
            self.idle_sweep.discard(self)
        if self._close is not None:
            self._close.close()
        else:
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                # local generators: schedule their cleanup; nothing to wait for
                task = asyncio.ensure_future(aclose())
                task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)


class IdleSweep(WatchSet[UpstreamResponse]):
    """Bounds the silences of every flowing upstream stream from one task per process:
    a read that has waited ``idle_timeout`` fails as aiohttp's socket read timeout
    would have failed it, checked every eighth of the timeout (so it fires after 1 to
    1.125 timeouts). Only the time a read waits counts: a stream held up by a slow
    client is not idle."""

    def due(self, item: UpstreamResponse, now: float) -> bool:
        since = item.waiting_since
        return since is not None and now - since >= item.idle_timeout

    def fire(self, item: UpstreamResponse) -> None:
        self.discard(item)
        item.expire_idle()


class UpstreamClient:
    """One pooled ClientSession for every upstream call of this process."""

    def __init__(self, settings: UpstreamSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self.idle = IdleSweep()
        #: The deadlines of JSON exchanges and of streams' waits for their headers.
        self.deadlines = DeadlineSweep()
        # Parsed URLs by string: a deployment's few URLs are parsed once, not per request.
        self._urls: dict[str, URL] = {}
        self._header_sets: dict[tuple[tuple[str, str], ...], CIMultiDict[str]] = {}
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout_s,
            sock_read=settings.idle_timeout_s,
        )
        self._connect_only = aiohttp.ClientTimeout(total=None, connect=settings.connect_timeout_s)

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
            # Bodies are asked for uncompressed (_IDENTITY): JSON from a nearby provider
            # costs less CPU to read than to inflate; decompression stays on for an
            # upstream that compresses anyway.
            auto_decompress=True,
            # Upstreams set no cookies the router should send back: no jar to filter
            # and update per request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # No skip_auto_headers: with it aiohttp copies every request's headers to
            # decide what to add; _request_headers names the router instead of aiohttp.
        )
        self.idle.start()
        self.deadlines.start()

    async def close(self) -> None:
        await self.idle.close()
        await self.deadlines.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(
        self,
        plugin: ProviderPlugin,
        req: UpstreamRequest,
        clock: AttemptClock,
        *,
        timed_reads: bool = True,
    ) -> UpstreamResponse:
        """Send ``req`` and wait for status + headers (the caller's timer bounds the
        wait; connect and per-read timeouts come from ``clock``). ``timed_reads=False``:
        no socket read timeout, the caller's timer bounds the reads (a JSON answer read
        with ``read(timer)``). Connection failures become RouterErrors (retryable)."""
        max_body = self._settings.max_event_bytes
        if req.url.startswith("local:"):
            local: LocalResponse = plugin.serve_local(req)
            # in-process upstreams answer "headers" at once: their first read is the first byte
            return UpstreamResponse(
                local.status,
                local.headers,
                local.body,
                None,
                clock.idle_s,
                max_body,
                max(clock.first_token_left(), 1e-3),
            )
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited")
        try:
            resp = await self._session.request(
                req.method,
                self._url(req.url),
                data=req.body,
                headers=self._headers(req.headers),
                # Never follow: a redirect would carry provider keys (x-api-key ...)
                # and the body to a host the operator did not configure.
                allow_redirects=False,
                timeout=self._client_timeout(clock) if timed_reads else self._untimed(clock),
            )
        except aiohttp.InvalidURL as exc:
            raise InvalidRequest("The deployment has an invalid upstream URL") from exc
        except aiohttp.ServerTimeoutError as exc:
            raise UpstreamTimeout(detail=f"{_host(req.url)}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise ModelError(
                "The model provider could not be reached",
                detail=f"{_host(req.url)}: {exc.__class__.__name__}: {exc}",
            ) from exc
        return UpstreamResponse(
            resp.status,
            resp.headers,
            None,  # read through resp.content (read_chunk), no iterator per request
            resp,
            clock.idle_s,
            max_body,
            idle_sweep=self.idle if timed_reads else None,
        )

    def _headers(self, headers: Mapping[str, str]) -> CIMultiDict[str]:
        """The header set to send, built once per distinct set: a deployment sends the
        same few headers on every request. aiohttp copies it, never changes it."""
        key = tuple(headers.items())
        built = self._header_sets.get(key)
        if built is None:
            if len(self._header_sets) >= _MAX_HEADER_SETS:
                self._header_sets.clear()  # a plugin that varies a header per request
            built = self._header_sets[key] = _request_headers(headers)
        return built

    def _url(self, url: str) -> URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _MAX_URLS:
                self._urls.clear()  # URLs come from the config: only a reload changes them
            try:
                parsed = URL(url)
            except ValueError as exc:
                raise aiohttp.InvalidURL(url) from exc
            self._urls[url] = parsed
        return parsed

    def _untimed(self, clock: AttemptClock) -> aiohttp.ClientTimeout:
        if clock.connect_s is None:
            return self._connect_only
        return aiohttp.ClientTimeout(total=None, connect=clock.connect_s)

    def _client_timeout(self, clock: AttemptClock) -> aiohttp.ClientTimeout:
        if clock.connect_s is None and clock.idle_s == self._settings.idle_timeout_s:
            return self._timeout
        return aiohttp.ClientTimeout(
            total=None,
            connect=clock.connect_s or self._settings.connect_timeout_s,
            sock_read=clock.idle_s,
        )


_MAX_URLS = 4096
_MAX_HEADER_SETS = 256
_IDENTITY = "identity"
_USER_AGENT = f"viberouter/{__version__}"


def _request_headers(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """The plugin's headers, asking for an uncompressed body (aiohttp would offer gzip,
    deflate and br) and naming the router, unless the plugin or operator set either."""
    out = CIMultiDict(headers)
    if "Accept-Encoding" not in out:
        out["Accept-Encoding"] = _IDENTITY
    if "User-Agent" not in out:
        out["User-Agent"] = _USER_AGENT
    return out


def _oversized(max_body: int) -> ModelError:
    return ModelError(
        "The model provider sent an oversized response",
        detail=f"body larger than {max_body} bytes",
        retryable=False,
    )


def _read_error(exc: BaseException) -> RouterError:
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(detail="idle timeout between upstream reads")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ModelError("The model provider closed the connection mid-response", detail=str(exc))
    return ModelError("The model provider connection failed", detail=str(exc))


def _host(url: str) -> str:
    # for logs: scheme://host:port only, never query strings (may carry keys)
    head, _, rest = url.partition("://")
    return f"{head}://{rest.split('/', 1)[0]}"
