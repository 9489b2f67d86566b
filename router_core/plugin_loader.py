"""Provider discovery with stevedore: the only module that knows entry points."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog
from stevedore import ExtensionManager

from router_core.plugin_api import API_VERSION, ProviderPlugin
from router_core.settings import Settings

GROUP = "viberouter.providers"
log = structlog.get_logger("viberouter.plugins")


class PluginError(Exception):
    """A provider named in config cannot be used; the message says what to do."""


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    name: str
    cls: type[ProviderPlugin] | None
    distribution: str
    version: str
    error: str | None = None


def _dist_info(entry_point: Any, owners: Mapping[str, list[str]]) -> tuple[str, str]:
    """(distribution, version) of an entry point; stevedore's cached entry points
    carry no ``dist``, so fall back to the module's top-level package owner."""
    dist = getattr(entry_point, "dist", None)
    if dist is not None:
        return str(dist.name), str(dist.version)
    top = str(getattr(entry_point, "module", "") or entry_point.value).split(".", 1)[0]
    for name in owners.get(top, ()):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "?", "?"


def discover() -> dict[str, InstalledPlugin]:
    """Every installed provider; one that fails to import is reported, not fatal."""
    found: dict[str, InstalledPlugin] = {}
    owners = importlib.metadata.packages_distributions()

    def on_failure(manager: Any, entrypoint: Any, exc: BaseException) -> None:
        dist_name, version = _dist_info(entrypoint, owners)
        found[entrypoint.name] = InstalledPlugin(
            name=entrypoint.name,
            cls=None,
            distribution=dist_name,
            version=version,
            error=f"{exc.__class__.__name__}: {exc}",
        )
        log.error("plugin_import_failed", plugin=entrypoint.name, error=str(exc))

    mgr = ExtensionManager(GROUP, invoke_on_load=False, on_load_failure_callback=on_failure)
    for ext in mgr.extensions:
        dist_name, version = _dist_info(ext.entry_point, owners)
        loaded: Any = ext.plugin
        cls: type[ProviderPlugin] | None = None
        error = None
        if not (isinstance(loaded, type) and issubclass(loaded, ProviderPlugin)):
            error = "entry point is not a ProviderPlugin subclass"
        elif getattr(loaded, "api_version", None) != API_VERSION:
            error = (
                f"plugin API version {getattr(loaded, 'api_version', None)} "
                f"!= router's {API_VERSION}; upgrade the plugin or the router"
            )
        else:
            cls = loaded
        found[ext.name] = InstalledPlugin(ext.name, cls, dist_name, version, error)
    return found


def load_providers(
    settings: Settings, installed: Mapping[str, InstalledPlugin] | None = None
) -> dict[str, ProviderPlugin]:
    """Instantiate every configured provider with its validated settings.

    Raises PluginError when a configured plugin is missing or broken, naming the pip
    package to install; providers no config names are never loaded.
    """
    installed = discover() if installed is None else installed
    out: dict[str, ProviderPlugin] = {}
    for pname, pconf in settings.providers.items():
        info = installed.get(pconf.plugin)
        if info is None:
            raise PluginError(
                f"provider {pname!r} uses plugin {pconf.plugin!r}, which is not installed; "
                f"install it with: pip install viberouter-{pconf.plugin}"
            )
        if info.cls is None:
            raise PluginError(
                f"provider {pname!r}: plugin {pconf.plugin!r} "
                f"({info.distribution} {info.version}) cannot be used: {info.error}"
            )
        plugin_settings: Any = pconf.settings
        if info.cls.settings_type is not None:
            try:
                plugin_settings = msgspec.convert(pconf.settings, info.cls.settings_type)
            except msgspec.ValidationError as exc:
                path = str(exc).replace("`$", f"`providers.{pname}.settings", 1)
                raise PluginError(f"{settings.source}: {path}") from exc
        out[pname] = info.cls(plugin_settings)
    return out
