"""Model discovery: providers configured with ``discover`` globs publish the models
their upstream lists (``GET {base}/models`` for OpenAI-compatible servers), at start and
every ``discover_interval_s``, so a vLLM, Ollama or llama.cpp server with twenty models
needs no twenty config lines.

The core does the I/O (the shared upstream client, bounded by LIST_TIMEOUT_S); the
plugin builds the request and reads the answer (contract 2.4). A listing that fails is
logged and the previous list kept, so an upstream restart never empties the catalog; a
changed list rebuilds the catalog (catalog.Catalog with ``discovered``) and swaps it in,
as a reload does: requests in flight keep the route they were planned with, and a model
that left the list answers 400 invalid_model from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from router_core.catalog import Catalog
from router_core.errors import RouterError
from router_core.plugin_api import ProviderPlugin
from router_core.state import RouterState
from router_core.timeouts import AttemptClock, Timeouts
from router_core.upstream import UpstreamClient

log = structlog.get_logger("viberouter.models")

#: The longest one listing may take (connect, answer and body).
LIST_TIMEOUT_S = 10.0


async def list_models(upstream: UpstreamClient, plugin: ProviderPlugin) -> list[str]:
    """The model ids the upstream lists now; RouterError or TimeoutError when it cannot."""
    req = plugin.build_models_request()
    limit = Timeouts(LIST_TIMEOUT_S, LIST_TIMEOUT_S, LIST_TIMEOUT_S)
    clock = AttemptClock.begin(limit, time.monotonic() + LIST_TIMEOUT_S)
    async with asyncio.timeout(LIST_TIMEOUT_S):
        resp = await upstream.send(plugin, req, clock)
        try:
            body = await resp.read()
        finally:
            resp.release()
    if resp.status >= 300:
        raise plugin.map_error(resp.status, resp.headers, body)
    return plugin.parse_models_response(body)


class ModelRefresher:
    """Keeps ``state.discovered`` and the catalog in step with the upstreams' lists."""

    def __init__(self, state: RouterState) -> None:
        self._state = state
        self._due: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    def providers(self) -> list[str]:
        """The providers that discover (from the settings in force: a reload may change them)."""
        st = self._state
        return [
            n for n, p in st.settings.providers.items() if p.discover and n in st.catalog.plugins
        ]

    async def start(self) -> None:
        """List every discovering provider once (bounded), then keep refreshing (a
        reload that turns ``discover`` on is picked up within a minute)."""
        names = self.providers()
        if names:
            await self.refresh(names)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refresh(self, names: list[str]) -> bool:
        """List ``names`` now; True when the catalog changed."""
        st = self._state
        lists = await asyncio.gather(*(self._list(n) for n in names))
        changed = False
        for name, ids in zip(names, lists, strict=True):
            interval = st.settings.providers[name].discover_interval_s
            self._due[name] = time.monotonic() + interval
            if ids is not None and ids != st.discovered.get(name):
                st.discovered[name] = ids
                changed = True
        if changed:
            await self._rebuild()
        return changed

    async def _list(self, name: str) -> tuple[str, ...] | None:
        plugin = self._state.catalog.plugins[name]
        try:
            ids = await list_models(self._state.upstream, plugin)
        except (RouterError, TimeoutError) as exc:
            kept = len(self._state.discovered.get(name, ()))
            log.warning("model_listing_failed", provider=name, error=str(exc), kept=kept)
            return None
        return tuple(dict.fromkeys(ids))

    async def _rebuild(self) -> None:
        """Build the catalog in a thread (it may start the price list's child process),
        then swap it in unless a reload or another refresh changed the inputs meanwhile
        (then build again from the newer ones)."""
        st = self._state
        for _ in range(3):
            settings, plugins, discovered = st.settings, st.catalog.plugins, dict(st.discovered)
            try:
                catalog = await asyncio.to_thread(Catalog, settings, plugins, discovered)
            except Exception as exc:  # keep serving the catalog we have
                log.error("model_refresh_failed", error=str(exc))
                return
            unchanged = st.settings is settings and st.catalog.plugins is plugins
            if unchanged and discovered == st.discovered:
                break
        else:
            return  # inputs kept changing: the change that did it rebuilds with them
        st.metrics.init_deployments(
            (t.deployment.provider, did) for did, t in catalog.deployments.items()
        )
        st.catalog = catalog
        log.info(
            "models_refreshed",
            providers={n: len(ids) for n, ids in st.discovered.items()},
            models=len(catalog.listed()),
        )

    async def _run(self) -> None:
        while True:
            names = self.providers()
            now = time.monotonic()
            due = [n for n in names if self._due.get(n, 0.0) <= now]
            if due:
                await self.refresh(due)
            wake = min((self._due.get(n, now) for n in names), default=now + 60.0)
            await asyncio.sleep(max(0.05, wake - time.monotonic()))
