"""Plugins + config -> model cards and routes (model name -> ordered deployments)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgspec
import structlog

from router_core.api.models import ModelCard
from router_core.plugin_api import Deployment, ProviderPlugin
from router_core.price_list import Listed
from router_core.price_source import Query, lookup_many, price_card
from router_core.settings import (
    DeploymentTimeouts,
    ModelOverride,
    RouteSettings,
    RouteStrategy,
    Settings,
    TargetSettings,
)
from router_core.timeouts import Timeouts

log = structlog.get_logger("viberouter.catalog")


class CatalogError(Exception):
    """Config names a model no provider offers."""


#: Timeouts of a target built without config (tests, tools).
DEFAULT_TIMEOUTS = Timeouts(60.0, 120.0, 600.0)


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment of a route, with its plugin and routing knobs.

    Targets of one route with equal ``rank`` form a pool that the route's
    ``strategy`` orders per request; ``route`` keeps pools of different routes apart
    when a client's ``models`` fallbacks add more routes behind the first."""

    deployment: Deployment
    plugin: ProviderPlugin
    weight: float = 1.0
    rank: int = 0
    route: str = ""
    strategy: RouteStrategy = "ordered"
    timeouts: Timeouts = DEFAULT_TIMEOUTS


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    targets: tuple[Target, ...]
    card: ModelCard
    strategy: RouteStrategy = "ordered"


def _merge(base: Timeouts, *layers: DeploymentTimeouts | None) -> Timeouts:
    """``base`` overridden by each set field of ``layers`` (later layers win)."""
    first, idle, total = base.first_token_s, base.idle_s, base.total_s
    connect = base.connect_s
    for layer in layers:
        if layer is None:
            continue
        first = layer.first_token_s if layer.first_token_s is not None else first
        idle = layer.idle_s if layer.idle_s is not None else idle
        total = layer.total_s if layer.total_s is not None else total
        connect = layer.connect_s if layer.connect_s is not None else connect
    return Timeouts(first, idle, total, connect)


def _apply(card: ModelCard, o: ModelOverride, model_id: str, provider: str) -> ModelCard:
    changes: dict[str, object] = {"id": model_id, "provider": provider}
    for name in (
        "context_length",
        "max_output_tokens",
        "pricing",
        "capabilities",
        "owned_by",
        "created",
    ):
        value = getattr(o, name)
        if value is not None:
            changes[name] = value
    return msgspec.structs.replace(card, **changes)


class Catalog:
    """Every deployment and route; immutable after construction.

    ``discovered`` holds, per provider configured with ``discover`` globs, the model ids
    its upstream listed (model_refresh.py); such a provider offers the listed ids that
    match its globs, the models its routes name and its ``models`` overrides (cards from
    the plugin's catalog where it knows the id, else a plain card), instead of the
    plugin's default catalog.
    """

    def __init__(
        self,
        settings: Settings,
        plugins: Mapping[str, ProviderPlugin],
        discovered: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.deployments: dict[str, Target] = {}
        self.routes: dict[str, Route] = {}
        #: The provider plugins the catalog was built from (a refresh rebuilds with them).
        self.plugins: dict[str, ProviderPlugin] = dict(plugins)
        #: Names a later route or alias took from an earlier one (check-config warns).
        self.shadowed: list[str] = []
        aliases: dict[str, str] = {}  # "<provider>/<catalog alias>" -> deployment id
        public: list[str] = []
        #: Deployments no price source knows: they cost 0 (price_source.py).
        self.unpriced: list[str] = []
        cards = {
            pname: _provider_cards(settings, pname, plugin, (discovered or {}).get(pname))
            for pname, plugin in plugins.items()
        }
        listed = _listed(settings, plugins, cards)
        for pname, plugin in plugins.items():
            public += self._add_deployments(
                settings, pname, plugin, cards[pname], aliases, listed[pname]
            )
        if self.unpriced:
            log.warning("models_unpriced", deployments=self.unpriced, cost_usd=0)
        #: A plugin catalog's short names for its models: valid in routes and for clients.
        self.aliases = {a: d for a, d in aliases.items() if a not in self.deployments}
        for did in public:
            t = self.deployments[did]
            self.routes[did] = Route(did, (t,), t.deployment.card)
            for adid in (a for a, target in self.aliases.items() if target == did):
                self.routes.setdefault(adid, self.routes[did])
        problems: list[str] = []
        for rname, rconf in settings.routes.items():
            self._add_route(rname, rconf, problems)
        if problems:
            raise CatalogError("\n".join(problems))
        self._listed = [r for name, r in self.routes.items() if name == r.name]

    def _add_deployments(
        self,
        settings: Settings,
        pname: str,
        plugin: ProviderPlugin,
        cards: Mapping[str, ModelCard],
        aliases: dict[str, str],
        listed: Mapping[str, Listed | None],
    ) -> list[str]:
        """Register one provider's deployments (``listed``: the price list's entry per
        model id); returns the ids it publishes."""
        pconf = settings.providers[pname]
        up = settings.upstream
        defaults = Timeouts(up.first_byte_timeout_s, up.idle_timeout_s, up.total_timeout_s)
        public: list[str] = []
        for mid, card in cards.items():
            found = pconf.models.get(mid)
            upstream_id = (found.upstream_id if found else None) or mid
            did = f"{pname}/{mid}"
            priced = price_card(
                card,
                configured=found.pricing if found else None,
                configured_window=found is not None and found.context_length is not None,
                price_provider=price_provider(pconf.price_provider, pconf.plugin, plugin),
                listed=listed[mid],
            )
            if priced.unpriced:
                self.unpriced.append(did)
            card = msgspec.structs.replace(priced.card, id=did, provider=pname)
            dep = Deployment(id=did, provider=pname, model=upstream_id, card=card)
            tm = _merge(defaults, pconf.timeouts, found.timeouts if found else None)
            self.deployments[did] = Target(dep, plugin, route=did, timeouts=tm)
            for alias in card.aliases:  # the catalog's short names ("claude-sonnet-4-5")
                if alias not in cards:
                    aliases[f"{pname}/{alias}"] = did
            if pconf.expose_models:
                public.append(did)
        return public

    def _add_route(self, rname: str, rconf: RouteSettings, problems: list[str]) -> None:
        targets: list[Target] = []
        for i, entry in enumerate(rconf.deployments):
            ts = entry if isinstance(entry, TargetSettings) else TargetSettings(target=entry)
            tname = ts.target
            known = self.deployments.get(self.aliases.get(tname, tname))
            if known is None:
                provider, _, model = tname.partition("/")
                problems.append(
                    f"routes.{rname}.deployments[{i}]: no provider offers {tname!r}; add it "
                    f'under [providers.{provider}.models."{model}"]'
                )
                continue
            rank = ts.rank
            if rank is None:
                rank = i if rconf.strategy == "ordered" else 0
            targets.append(
                Target(
                    known.deployment,
                    known.plugin,
                    ts.weight,
                    rank,
                    rname,
                    rconf.strategy,
                    _merge(known.timeouts, ts.timeouts),
                )
            )
        if not targets:
            return
        targets.sort(key=lambda t: t.rank)  # stable: equal ranks keep their config order
        first = targets[0].deployment.card
        card = msgspec.structs.replace(
            first, id=rname, aliases=list(rconf.aliases), owned_by=first.owned_by
        )
        route = Route(rname, tuple(targets), card, rconf.strategy)
        self._publish(rname, route, f"route {rname!r}")
        for alias in rconf.aliases:
            self._publish(alias, route, f"alias {alias!r} of route {rname!r}")

    def _publish(self, name: str, route: Route, what: str) -> None:
        earlier = self.routes.get(name)
        if earlier is not None and earlier is not route:
            self.shadowed.append(
                f"{what} hides {'route' if earlier.name == name else 'alias'} {name!r} "
                f"(of {earlier.name!r}): clients asking for {name!r} get {route.name!r}"
            )
        self.routes[name] = route

    def resolve(self, name: str) -> Route | None:
        return self.routes.get(name)

    def listed(self) -> list[Route]:
        """Routes as published by GET /v1/models (aliases folded into their route)."""
        return self._listed


def _provider_cards(
    settings: Settings,
    pname: str,
    plugin: ProviderPlugin,
    discovered: Sequence[str] | None,
) -> dict[str, ModelCard]:
    """One provider's model cards by model id: the plugin's catalog, or with ``discover``
    the listed ids that match its globs plus the models its routes name; then the
    ``[providers.NAME.models]`` overrides on top."""
    pconf = settings.providers[pname]
    known = {c.id: c for c in plugin.models()}
    if pconf.discover:
        wanted = [
            m for m in discovered or () if any(fnmatch.fnmatchcase(m, g) for g in pconf.discover)
        ]
        wanted += [m for m in _route_models(settings, pname) if m not in wanted]
        cards = {m: known.get(m) or ModelCard(id=m, owned_by=pname) for m in wanted}
    else:
        cards = known
    for mid, override in pconf.models.items():
        base = cards.get(mid) or known.get(mid) or ModelCard(id=mid, owned_by=pname)
        cards[mid] = _apply(base, override, mid, pname)
    return cards


def _listed(
    settings: Settings,
    plugins: Mapping[str, ProviderPlugin],
    cards: Mapping[str, Mapping[str, ModelCard]],
) -> dict[str, dict[str, Listed | None]]:
    """The price list's entry for every provider's every model, asked in one go (one
    child process, price_source.py); the ids tried are the upstream id, the published
    id, then the card's aliases."""
    queries: list[Query] = []
    for pname, plugin in plugins.items():
        pconf = settings.providers[pname]
        pid = price_provider(pconf.price_provider, pconf.plugin, plugin)
        for mid, card in cards[pname].items():
            found = pconf.models.get(mid)
            upstream_id = (found.upstream_id if found else None) or mid
            queries.append((pid, (upstream_id, mid, *card.aliases)))
    answers = iter(lookup_many(queries))
    return {pname: {mid: next(answers) for mid in cards[pname]} for pname in plugins}


def price_provider(configured: str | None, entry_name: str, plugin: ProviderPlugin) -> str:
    """The genai-prices provider id of a provider's models: its config's
    ``price_provider``, else its plugin's (contract 2.5), else the plugin's entry name."""
    if configured is not None:
        return configured
    own = type(plugin).price_provider
    return entry_name if own is None else own


def _route_models(settings: Settings, pname: str) -> list[str]:
    """The model ids of ``pname`` that routes name (declared, so they exist even before
    or without a successful model listing)."""
    prefix = pname + "/"
    names = (
        entry if isinstance(entry, str) else entry.target
        for route in settings.routes.values()
        for entry in route.deployments
    )
    return list(dict.fromkeys(n[len(prefix) :] for n in names if n.startswith(prefix)))


class ModelMatcher:
    """A key's allowed-model globs, compiled once."""

    __slots__ = ("_re",)

    def __init__(self, patterns: Iterable[str]) -> None:
        pats = [p for p in patterns if p]
        self._re = (
            re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in pats)) if pats else None
        )

    def allows(self, model: str) -> bool:
        return self._re is None or self._re.match(model) is not None
