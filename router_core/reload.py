"""Hot reload (SIGHUP, `viberouter reload`): re-read the config file while serving.

What a reload replaces, all built before anything is swapped, so an invalid file (a
config error, a missing plugin, a route to nowhere, a bad filter) is refused whole and
the running config stays: providers and their plugins, routes and aliases, routing
(balancing, retries, circuits), upstream timeouts, guards and content filters, and the
auth cache (so changed keys' and accounts' limits apply at once, not after its TTL).

Requests in flight keep what they started with: a request holds its route, targets and
dispatcher from the moment it was planned, so a reload that removes its route does not
touch it. Sections that shape the process itself (``server``, ``state``, ``metrics``,
``dashboard``, ``cors``, ``logging``, ``responses``) need a restart: a reload that
changes them applies the rest and names those sections in its log line.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec
import structlog

from router_core.catalog import Catalog
from router_core.discovery import load_providers
from router_core.dispatch import Dispatcher
from router_core.filters import FilterChain, load_filters
from router_core.plugin_api import ProviderPlugin
from router_core.settings import Settings, load_settings
from router_core.state import RouterState

log = structlog.get_logger("viberouter.reload")

#: Sections read once at start; a change to them waits for a restart.
RESTART_ONLY = ("server", "state", "metrics", "dashboard", "cors", "logging", "responses")


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What one reload did (its log line)."""

    source: str
    routes: int
    providers: int
    restart_needed: tuple[str, ...]
    seconds: float


@dataclass(frozen=True, slots=True)
class Prepared:
    """A new config read and checked, ready to swap in (built off the event loop)."""

    settings: Settings
    plugins: dict[str, ProviderPlugin]
    catalog: Catalog
    filters: FilterChain
    discovered: dict[str, tuple[str, ...]]  # the discovered lists the catalog was built from


def prepare(
    path: str, environ: Mapping[str, str], discovered: dict[str, tuple[str, ...]]
) -> Prepared:
    """Read and check ``path``: blocking work (the file, plugin imports, the price
    list's child process), so it runs in a worker thread; raises (ConfigError,
    PluginError, CatalogError, FilterError) when the new file cannot be served."""
    new = load_settings(path, environ)
    plugins = load_providers(new)
    catalog = Catalog(new, plugins, discovered)
    return Prepared(new, plugins, catalog, load_filters(new.guards), discovered)


def apply(state: RouterState, ready: Prepared, t0: float) -> Reloaded:
    """Swap ``ready`` in (on the event loop, no await: every request sees either the
    old set or the new one)."""
    new, catalog = ready.settings, ready.catalog
    old = state.settings
    restart = tuple(name for name in RESTART_ONLY if getattr(new, name) != getattr(old, name))
    # Keep what needs a restart as it runs, so state.settings stays the truth.
    kept = msgspec.structs.replace(new, **{name: getattr(old, name) for name in restart})
    dispatcher = Dispatcher(state.upstream, kept.upstream, state.metrics, routing=kept.routing)
    state.metrics.init_deployments(
        (t.deployment.provider, did) for did, t in catalog.deployments.items()
    )
    state.settings, state.catalog, state.dispatcher, state.filters = (
        kept,
        catalog,
        dispatcher,
        ready.filters,
    )
    state.auth.clear()
    for warning in catalog.shadowed:
        log.warning("route_shadowed", detail=warning)
    return Reloaded(
        source=new.source,
        routes=len(catalog.listed()),
        providers=len(ready.plugins),
        restart_needed=restart,
        seconds=time.monotonic() - t0,
    )


async def reload_state(state: RouterState, path: str, environ: Mapping[str, str]) -> Reloaded:
    """Re-read ``path`` into ``state``; raises without changing anything when the new
    file cannot be served. The reading runs in a thread (a catalog build may start the
    price list's child, a third of a second) so streams in flight never stall; when a
    model refresh swapped in new discovered lists meanwhile, the catalog is rebuilt
    from them before the swap."""
    t0 = time.monotonic()
    ready = await asyncio.to_thread(prepare, path, environ, dict(state.discovered))
    for _ in range(3):
        if ready.discovered == state.discovered:
            break
        discovered = dict(state.discovered)
        catalog = await asyncio.to_thread(Catalog, ready.settings, ready.plugins, discovered)
        ready = Prepared(ready.settings, ready.plugins, catalog, ready.filters, discovered)
    return apply(state, ready, t0)


class Reloader:
    """Runs reloads one at a time off the signal handler (a burst of SIGHUPs is one
    reload per file state, never two at once)."""

    def __init__(self, state: RouterState, path: str) -> None:
        self._state = state
        self._path = path
        self._lock = asyncio.Lock()

    def request(self) -> None:
        """From a signal handler: schedule a reload."""
        asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> bool:
        """Reload now; True when the new config is serving."""
        async with self._lock:
            try:
                # Under the lock: two reloads never interleave their swaps.
                done = await reload_state(self._state, self._path, os.environ)
            except Exception as exc:  # every refusal keeps the running config
                log.error("reload_refused", config=self._path, error=str(exc).splitlines())
                return False
            log.info(
                "reloaded",
                config=done.source,
                routes=done.routes,
                providers=done.providers,
                restart_needed=list(done.restart_needed),
                ms=round(done.seconds * 1000, 1),
            )
            return True
