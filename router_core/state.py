"""What a running app holds (built in app.py, read by handlers through ``STATE``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from router_core.accounts import AccountService
from router_core.auth import Authenticator
from router_core.catalog import Catalog
from router_core.dispatch import Dispatcher
from router_core.drain import Drain
from router_core.filters import NO_FILTERS, FilterChain
from router_core.image_fetch import ImageFetcher
from router_core.installed import InstalledInfo
from router_core.ledger import UsageLedger
from router_core.limits.base import Limiter
from router_core.metrics import Metrics
from router_core.settings import Settings
from router_core.store.base import StoreBackend
from router_core.store.responses_base import ResponseStore
from router_core.timeouts import ClientWriteWatch, KeepAliveSweep
from router_core.upstream import UpstreamClient


@dataclass(slots=True)
class RouterState:
    settings: Settings
    catalog: Catalog
    metrics: Metrics
    upstream: UpstreamClient
    dispatcher: Dispatcher
    store: StoreBackend
    auth: Authenticator
    accounts: AccountService
    limiter: Limiter
    ledger: UsageLedger
    installed: InstalledInfo
    #: Stored Responses API answers (``store`` / ``previous_response_id``).
    responses: ResponseStore
    ready: bool = False
    #: Model ids each discovering provider's upstream listed last (model_refresh.py).
    discovered: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Content filters (guards.filters); replaced whole by a reload.
    filters: FilterChain = NO_FILTERS
    #: Drops clients that leave an answer unread (``server.client_write_timeout_s``).
    client_writes: ClientWriteWatch = field(default_factory=lambda: ClientWriteWatch(0.0))
    #: Sends every open stream's keep-alives (``server.sse_keepalive_s``).
    keepalives: KeepAliveSweep = field(default_factory=KeepAliveSweep)
    drain: Drain = field(default_factory=Drain)
    #: Fetches image URLs for providers that take images only inline ([guards.image_fetch]).
    images: ImageFetcher = field(default_factory=ImageFetcher)


STATE = web.AppKey("viberouter_state", RouterState)
