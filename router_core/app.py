"""make_app(settings) -> web.Application: routes inside the boundary, state, clean-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from router_core import boundary, cors, embeddings_call, http_server
from router_core import filters as content_filters
from router_core.accounts import AccountService
from router_core.auth import Authenticator
from router_core.catalog import Catalog
from router_core.dashboard import routes as dashboard_routes
from router_core.discovery import PROVIDERS, EntryPoint, load_providers, scan
from router_core.dispatch import Dispatcher
from router_core.handlers import admin, chat, health, messages, models, responses
from router_core.handlers import openapi as openapi_handler
from router_core.installed import InstalledInfo
from router_core.ledger import UsageLedger
from router_core.limits.factory import make_limiter
from router_core.metrics import Metrics
from router_core.metrics_server import metrics_handler
from router_core.model_refresh import ModelRefresher
from router_core.plugin_api import ProviderPlugin
from router_core.settings import Settings
from router_core.state import STATE, RouterState
from router_core.store.base import StoreBackend
from router_core.store.factory import make_response_store, make_store
from router_core.store.responses_base import ResponseStore
from router_core.timeouts import ClientWriteWatch
from router_core.upstream import UpstreamClient


def build_state(
    settings: Settings,
    *,
    plugins: Mapping[str, ProviderPlugin] | None = None,
    store: StoreBackend | None = None,
    registry: CollectorRegistry | None = None,
) -> RouterState:
    """Everything the app needs, constructed but not yet opened."""
    installed = scan(PROVIDERS)  # names and versions only: nothing is imported here
    if plugins is None:
        plugins = load_providers(settings, installed)
    info = _installed_info(settings, plugins, installed)
    catalog = Catalog(settings, plugins)
    for warning in catalog.shadowed:
        structlog.get_logger("viberouter.config").warning("route_shadowed", detail=warning)
    metrics = Metrics(
        registry,
        tenant_labels=settings.metrics.tenant_labels,
        tenant_cap=settings.metrics.tenant_cap,
    )
    metrics.init_deployments((t.deployment.provider, did) for did, t in catalog.deployments.items())
    upstream = UpstreamClient(settings.upstream)
    if store is None:
        store = make_store(
            settings.state.backend,
            sqlite_path=settings.state.sqlite_path,
            redis_url=settings.state.redis_url,
            state=settings.state,
        )
    auth = Authenticator(
        store,
        settings.auth.cache_ttl_s,
        stale=settings.auth.cache_stale_s,
        on_error=metrics.backend_error_hook("store"),
    )
    limiter = make_limiter(
        settings.state.backend,
        redis_url=settings.state.redis_url,
        on_backend_error=settings.limits.on_backend_error,
        on_error=metrics.backend_error_hook("limiter"),
        lease_ttl=settings.limits.lease_ttl_s,
        state=settings.state,
    )
    return RouterState(
        settings=settings,
        catalog=catalog,
        metrics=metrics,
        upstream=upstream,
        dispatcher=Dispatcher(upstream, settings.upstream, metrics, routing=settings.routing),
        store=store,
        auth=auth,
        accounts=AccountService(store, auth),
        limiter=limiter,
        ledger=UsageLedger(store, on_error=metrics.backend_error_hook("store")),
        installed=info,
        responses=_response_store(settings),
        client_writes=ClientWriteWatch(settings.server.client_write_timeout_s),
    )


def _installed_info(
    settings: Settings, plugins: Mapping[str, ProviderPlugin], installed: Mapping[str, EntryPoint]
) -> InstalledInfo:
    """Each configured provider's plugin distribution and version (for /healthz)."""
    versions: dict[str, str] = {}
    for name in plugins:
        entry = installed.get(settings.providers[name].plugin)
        versions[name] = f"{entry.distribution} {entry.version}" if entry else "?"
    return InstalledInfo(providers=versions)


def _response_store(settings: Settings) -> ResponseStore:
    """Stored Responses API answers, in the state backend beside the Store."""
    return make_response_store(
        settings.state.backend,
        sqlite_path=settings.state.sqlite_path,
        redis_url=settings.state.redis_url,
        configured_path=settings.responses.sqlite_path,
        state=settings.state,
    )


def make_app(settings: Settings, state: RouterState | None = None) -> web.Application:
    """The router as an aiohttp application (state opened and closed with it)."""
    state = state or build_state(settings)
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        handler_args={
            "max_field_size": 16 * 1024,
            "max_headers": 64,
            **http_server.handler_args(settings.server),
        },
    )
    app[STATE] = state
    state.filters = content_filters.load_filters(settings.guards)  # a bad config stops start-up
    cors.install(app, settings.cors)
    app.router.add_post("/v1/chat/completions", chat.chat_completions)
    app.router.add_post("/v1/embeddings", embeddings_call.create_embeddings)
    responses.add_routes(app)
    messages.add_routes(app)
    app.router.add_get("/v1/models", models.list_models)
    app.router.add_get("/v1/models/{model_id:.+}", models.get_model)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    if settings.metrics.enabled and settings.metrics.listen is None:
        app.router.add_get("/metrics", metrics_handler)
    admin.add_routes(app)
    openapi_handler.add_routes(app)
    if settings.dashboard.enabled:
        dashboard_routes.add_routes(app)
    # Last: every route above inside the request boundary, and the catch-all after them.
    boundary.install(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    await _open_state(state)
    await state.upstream.start()
    await state.ledger.start()
    state.client_writes.start()
    state.keepalives.start()
    models = ModelRefresher(state)
    await models.start()
    state.ready = True
    try:
        yield
    finally:
        state.ready = False
        await models.close()
        await state.keepalives.close()
        await state.client_writes.close()
        await state.ledger.close()
        await state.limiter.close()
        await state.upstream.close()
        await state.images.close()
        await state.responses.close()
        await state.store.close()


async def _open_state(state: RouterState) -> None:
    """Open the stores, or stop the start with one line naming the backend (a router
    that cannot reach its state would refuse every key)."""
    conf = state.settings.state
    where = conf.redis_url if conf.backend == "redis" else conf.sqlite_path
    try:
        await state.store.open()
        await state.responses.open()
    except Exception as exc:  # each driver has its own errors; all mean "cannot open"
        scheme, sep, rest = where.partition("://")
        if sep and "@" in rest:  # never print a password from the URL
            where = f"{scheme}://***@{rest.rpartition('@')[2]}"
        raise http_server.StartupError(
            f"cannot open the {conf.backend} state at {where}: {str(exc).rstrip('.')}; start "
            "it, or fix "
            f"state.{'redis_url' if conf.backend == 'redis' else 'sqlite_path'}"
        ) from exc
