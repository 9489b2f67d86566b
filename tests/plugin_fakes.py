"""The plugins' fake upstreams (each plugin's tests/fake_*.py), loaded by path so the
core's end-to-end tests can point real providers at them. The fakes import only
aiohttp, msgspec and the standard library."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PLUGINS = Path(__file__).resolve().parent.parent / "plugins"


def load(plugin: str, module: str) -> ModuleType:
    """``plugins/viberouter-<plugin>/tests/<module>.py`` as a module (loaded once)."""
    name = f"_viberouter_fake_{plugin}_{module}"
    if name in sys.modules:
        return sys.modules[name]
    path = PLUGINS / f"viberouter-{plugin}" / "tests" / f"{module}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


def data(plugin: str, name: str) -> Path:
    """A fixture file of a plugin's tests."""
    return PLUGINS / f"viberouter-{plugin}" / "tests" / "data" / name
