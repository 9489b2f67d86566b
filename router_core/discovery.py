"""Plugin discovery: the only module that knows entry points, for every group.

Two groups, both owned by the core: ``viberouter.providers`` (provider plugins, named
by ``[providers.<name>] plugin = "..."``) and ``viberouter.filters`` (content filters,
named by ``guards.filters``). Config is the only enabling:

* :func:`scan` lists a group's entry points (name, distribution, version) without
  importing anything;
* :func:`load` imports only the names it is given: a plugin the config does not use
  is never imported, so a broken or slow-to-import package that nobody configured
  cannot break or slow start-up;
* a named plugin that is not installed, or fails to import, or breaks the contract,
  stops start-up with a message naming the pip package or the reason
  (:class:`PluginError`);
* :func:`report` is the diagnostic view (``viberouter plugins``): it imports every
  installed plugin to check it, and says which ones the config uses.

stevedore does the scanning (and caches scans under ``$XDG_CACHE_HOME``; reinstall a
plugin after editing its entry points).
"""

from __future__ import annotations

import difflib
import importlib.metadata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from stevedore import NamedExtensionManager

from router_core.plugin_api import CONTRACT_VERSION, ProviderPlugin, contract_compatible
from router_core.settings import Settings

PROVIDERS = "viberouter.providers"
FILTERS = "viberouter.filters"
GROUPS = {PROVIDERS: "provider", FILTERS: "filter"}
log = structlog.get_logger("viberouter.plugins")


class PluginError(Exception):
    """A plugin named in config cannot be used; the message says what to do."""


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One installed plugin, not imported: what ``scan`` finds."""

    group: str
    name: str
    target: str  # "module:attr"
    distribution: str
    version: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """One imported plugin: the object its entry point names, or why there is none."""

    entry: EntryPoint
    obj: Any | None
    error: str | None = None


def _dist_info(
    ep: Any, owners: Mapping[str, list[str]], declared: Mapping[tuple[str, str], Any]
) -> tuple[str, str]:
    """(distribution, version) of an entry point. stevedore's cached entry points carry
    no ``dist``: take it from the same entry point as importlib.metadata lists it, else
    from the owner of the module's top-level package (an editable install's RECORD may
    name only its .pth file, so that owner map can miss it)."""
    dist = getattr(ep, "dist", None) or declared.get((ep.name, str(ep.value)))
    if dist is not None:
        return str(dist.name), str(dist.version)
    top = str(getattr(ep, "module", "") or ep.value).split(".", 1)[0]
    for name in owners.get(top, ()):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?", "?"


def _manager(group: str, names: Collection[str], failures: dict[str, str]) -> Any:
    def on_failure(manager: Any, ep: Any, exc: BaseException) -> None:
        failures[ep.name] = f"{exc.__class__.__name__}: {exc}"
        log.error("plugin_import_failed", group=group, plugin=ep.name, error=str(exc))

    # NamedExtensionManager checks the name before importing: unnamed plugins stay unloaded.
    return NamedExtensionManager(
        group,
        names=list(names),
        invoke_on_load=False,
        on_load_failure_callback=on_failure,
        on_missing_entrypoints_callback=None,
    )


def scan(group: str) -> dict[str, EntryPoint]:
    """Every installed entry point of ``group``; nothing is imported."""
    eps = _manager(group, (), {}).list_entry_points()
    owners = importlib.metadata.packages_distributions() if eps else {}
    declared = (
        {(e.name, e.value): e.dist for e in importlib.metadata.entry_points(group=group)}
        if eps
        else {}
    )
    out: dict[str, EntryPoint] = {}
    for ep in eps:
        dist, version = _dist_info(ep, owners, declared)
        out[ep.name] = EntryPoint(group, ep.name, str(ep.value), dist, version)
    return out


def load(
    group: str, names: Collection[str], found: Mapping[str, EntryPoint] | None = None
) -> dict[str, Loaded]:
    """Import the installed plugins of ``group`` among ``names`` (and only those).
    One that fails to import is reported (logged, ``error`` set), not raised."""
    found = scan(group) if found is None else found
    wanted = [n for n in names if n in found]
    if not wanted:
        return {}
    failures: dict[str, str] = {}
    mgr = _manager(group, wanted, failures)
    out = {ext.name: Loaded(found[ext.name], ext.plugin) for ext in mgr.extensions}
    out.update({n: Loaded(found[n], None, err) for n, err in failures.items() if n in found})
    return out


# ---------------------------------------------------------------- providers


def provider_class(loaded: Loaded) -> type[ProviderPlugin]:
    """The provider class a loaded entry point names; PluginError if it cannot serve."""
    where = f"plugin {loaded.entry.name!r} ({loaded.entry.distribution} {loaded.entry.version})"
    error = loaded.error or _provider_contract_error(loaded.obj)
    if error is not None or loaded.obj is None:
        raise PluginError(f"{where} cannot be used: {error}")
    cls: type[ProviderPlugin] = loaded.obj  # checked just above
    return cls


def _provider_contract_error(obj: Any) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, ProviderPlugin)):
        return "entry point is not a ProviderPlugin subclass"
    wanted = getattr(obj, "contract_version", None)
    legacy = getattr(obj, "api_version", None)  # contract 1 spelled it so; 2.0 has none
    if legacy is not None:
        wanted = (legacy, 0)
    if not (isinstance(wanted, tuple) and contract_compatible(wanted)):
        return (
            f"it needs plugin contract {wanted}, the router offers {CONTRACT_VERSION}; "
            "upgrade the plugin or the router"
        )
    return None


def used_providers(settings: Settings) -> set[str]:
    """The provider plugin names (entry names) the config uses."""
    return {p.plugin for p in settings.providers.values()}


def load_providers(
    settings: Settings, found: Mapping[str, EntryPoint] | None = None
) -> dict[str, ProviderPlugin]:
    """Instantiate every configured provider with its validated settings, importing
    only the plugins the config names.

    Raises PluginError when a configured plugin is missing (naming the installed plugin
    it was probably meant to be, else the pip package to install), fails to import,
    breaks the contract, or its settings are invalid; one line per provider at fault.
    """
    found = scan(PROVIDERS) if found is None else found
    loaded = load(PROVIDERS, sorted(used_providers(settings)), found)
    out: dict[str, ProviderPlugin] = {}
    problems: list[str] = []
    for pname, pconf in settings.providers.items():
        try:
            out[pname] = _instantiate(pname, pconf.plugin, pconf.settings, loaded, found)
        except PluginError as exc:
            problems.append(f"{settings.source}: {exc}")
    if problems:
        raise PluginError("\n".join(problems))
    return out


def _instantiate(
    pname: str,
    plugin: str,
    raw_settings: Any,
    loaded: Mapping[str, Loaded],
    found: Mapping[str, EntryPoint],
) -> ProviderPlugin:
    hit = loaded.get(plugin)
    if hit is None:
        near = difflib.get_close_matches(plugin, list(found), n=1)
        fix = (
            f"did you mean {near[0]!r}?"
            if near
            else f"install it with: pip install viberouter-{plugin}"
        )
        raise PluginError(f"providers.{pname}.plugin: {plugin!r} is not an installed plugin; {fix}")
    try:
        cls = provider_class(hit)
    except PluginError as exc:
        raise PluginError(f"providers.{pname}: {exc}") from None
    if cls.settings_type is None:
        return cls(raw_settings)
    try:
        return cls(msgspec.convert(raw_settings, cls.settings_type))
    except msgspec.ValidationError as exc:
        path, message = f"$.providers.{pname}.settings", str(exc)
        if " - at `$" not in message:  # msgspec names no path for the object itself
            raise PluginError(f"{message} - at `{path}`") from exc
        raise PluginError(message.replace("`$", f"`{path}", 1)) from exc


# ---------------------------------------------------------------- the diagnostic view


@dataclass(frozen=True, slots=True)
class PluginStatus:
    """One installed plugin as ``viberouter plugins`` shows it."""

    kind: str  # "provider" | "filter"
    name: str
    distribution: str
    version: str
    used: bool | None  # None when no config was read
    error: str | None


def _used(group: str, settings: Settings | None) -> set[str] | None:
    if settings is None:
        return None
    if group == PROVIDERS:
        return used_providers(settings)
    return set(settings.guards.filters)


def report(settings: Settings | None = None) -> list[PluginStatus]:
    """Every installed plugin of every group, imported to check it (a broken one is
    reported with its error), marked used or unused by ``settings``."""
    out: list[PluginStatus] = []
    for group, kind in GROUPS.items():
        found = scan(group)
        loaded = load(group, sorted(found), found)
        used = _used(group, settings)
        for name in sorted(found):
            hit = loaded.get(name) or Loaded(found[name], None, "not loaded (name conflict?)")
            error = hit.error
            if error is None and group == PROVIDERS:
                error = _provider_contract_error(hit.obj)
            ep = hit.entry
            out.append(
                PluginStatus(
                    kind,
                    name,
                    ep.distribution,
                    ep.version,
                    None if used is None else name in used,
                    error,
                )
            )
    return out


__all__ = [
    "FILTERS",
    "PROVIDERS",
    "EntryPoint",
    "Loaded",
    "PluginError",
    "PluginStatus",
    "load",
    "load_providers",
    "provider_class",
    "report",
    "scan",
    "used_providers",
]
