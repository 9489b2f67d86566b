"""Provider discovery with stevedore: the only module that knows entry points."""

from __future__ import annotations

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


def _dist_info(ext: Any) -> tuple[str, str]:
    dist = getattr(ext.entry_point, "dist", None)
    if dist is None:
        return "?", "?"
    return str(dist.name), str(dist.version)


def discover() -> dict[str, InstalledPlugin]:
    """Every installed provider; one that fails to import is reported, not fatal."""
    found: dict[str, InstalledPlugin] = {}

    def on_failure(manager: Any, entrypoint: Any, exc: BaseException) -> None:
        dist = getattr(entrypoint, "dist", None)
        found[entrypoint.name] = InstalledPlugin(
            name=entrypoint.name,
            cls=None,
            distribution=str(dist.name) if dist else "?",
            version=str(dist.version) if dist else "?",
            error=f"{exc.__class__.__name__}: {exc}",
        )
        log.error("plugin_import_failed", plugin=entrypoint.name, error=str(exc))

    mgr = ExtensionManager(
        GROUP, invoke_on_load=False, on_load_failure_callback=on_failure
    )
    for ext in mgr.extensions:
        dist_name, version = _dist_info(ext)
        cls = ext.plugin
        error = None
        if not (isinstance(cls, type) and issubclass(cls, ProviderPlugin)):
            error = "entry point is not a ProviderPlugin subclass"
            cls = None
        elif getattr(cls, "api_version", None) != API_VERSION:
            error = (
                f"plugin API version {getattr(cls, 'api_version', None)} "
                f"!= router's {API_VERSION}; upgrade the plugin or the router"
            )
            cls = None
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
