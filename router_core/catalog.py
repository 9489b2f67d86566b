"""Plugins + config -> model cards and routes (model name -> ordered deployments)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import msgspec

from router_core.api.models import ModelCard
from router_core.plugin_api import Deployment, ProviderPlugin
from router_core.settings import ModelOverride, Settings, TargetSettings


class CatalogError(Exception):
    """Config names a model no provider offers."""


@dataclass(frozen=True, slots=True)
class Target:
    """One deployment of a route, with its plugin and routing knobs."""

    deployment: Deployment
    plugin: ProviderPlugin
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    targets: tuple[Target, ...]
    card: ModelCard


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
    """Every deployment and route; immutable after construction."""

    def __init__(self, settings: Settings, plugins: Mapping[str, ProviderPlugin]) -> None:
        self.deployments: dict[str, Target] = {}
        self.routes: dict[str, Route] = {}
        public: list[str] = []
        for pname, plugin in plugins.items():
            pconf = settings.providers[pname]
            cards = {c.id: c for c in plugin.models()}
            for mid, override in pconf.models.items():
                base = cards.get(mid) or ModelCard(id=mid, owned_by=pname)
                cards[mid] = _apply(base, override, mid, pname)
            for mid, card in cards.items():
                found = pconf.models.get(mid)
                upstream_id = (found.upstream_id if found else None) or mid
                did = f"{pname}/{mid}"
                card = msgspec.structs.replace(card, id=did, provider=pname)
                dep = Deployment(id=did, provider=pname, model=upstream_id, card=card)
                self.deployments[did] = Target(dep, plugin)
                if pconf.expose_models:
                    public.append(did)
        for did in public:
            t = self.deployments[did]
            self.routes[did] = Route(did, (t,), t.deployment.card)
        for rname, rconf in settings.routes.items():
            targets: list[Target] = []
            for entry in rconf.deployments:
                tname = entry if isinstance(entry, str) else entry.target
                weight = entry.weight if isinstance(entry, TargetSettings) else 1.0
                known = self.deployments.get(tname)
                if known is None:
                    raise CatalogError(
                        f"routes.{rname}: no provider offers {tname!r}; add it under "
                        f'[providers.{tname.split("/", 1)[0]}.models."{tname.split("/", 1)[1]}"]'
                    )
                targets.append(Target(known.deployment, known.plugin, weight))
            first = targets[0].deployment.card
            card = msgspec.structs.replace(
                first, id=rname, aliases=list(rconf.aliases), owned_by=first.owned_by
            )
            route = Route(rname, tuple(targets), card)
            self.routes[rname] = route
            for alias in rconf.aliases:
                self.routes[alias] = route
        self._listed = [r for name, r in self.routes.items() if name == r.name]

    def resolve(self, name: str) -> Route | None:
        return self.routes.get(name)

    def listed(self) -> list[Route]:
        """Routes as published by GET /v1/models (aliases folded into their route)."""
        return self._listed


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
