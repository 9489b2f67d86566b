"""docs/configuration.md is generated from the settings Structs: it must be current and
document every key (a ``#:`` comment above each field)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "docs" / "gen_config_reference.py"

# Keys allowed to lack a `#:` comment: none. A new undocumented key fails the test, and
# an entry added here that gets documented later fails it too (stale allow-list).
ALLOWED_UNDOCUMENTED: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_config_reference", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_reference_is_current(gen: ModuleType) -> None:
    text, _ = gen.generate()
    current = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert current == text, (
        "docs/configuration.md is stale: run python docs/gen_config_reference.py"
    )


def test_undocumented_keys(gen: ModuleType) -> None:
    _, missing = gen.generate()
    new = sorted(set(missing) - ALLOWED_UNDOCUMENTED)
    assert not new, f"add a `#:` comment above these settings fields: {new}"
    stale = sorted(ALLOWED_UNDOCUMENTED - set(missing))
    assert not stale, f"documented now: remove from ALLOWED_UNDOCUMENTED: {stale}"


def _paths(node: dict[str, Any], prefix: str, sections: set[str]) -> list[str]:
    """Key paths of a parsed TOML file, with chosen names replaced by ``<name>``."""
    out: list[str] = []
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        generic = f"{prefix}.<name>" if prefix else key
        if prefix and generic in sections and path not in sections:
            path = generic  # a name the operator chose (providers.echo -> providers.<name>)
        out.append(path)
        if isinstance(value, dict) and not path.endswith(".settings"):
            out.extend(_paths(value, path, sections))
        if isinstance(value, list) and any(isinstance(v, dict) for v in value):
            for item in value:
                if isinstance(item, dict):
                    out.extend(_paths(item, path + "[]", sections))
    return out


def test_every_key_of_the_shipped_config_is_in_the_reference(gen: ModuleType) -> None:
    from router_core.settings import Settings

    sections = gen.collect(Settings)
    documented = {k.path for s in sections for k in s.keys}
    tables = {s.path for s in sections}
    raw = tomllib.loads((ROOT / "config" / "viberouter.toml").read_text(encoding="utf-8"))
    used = _paths(raw, "", tables)
    assert "providers.<name>.plugin" in used
    assert sorted(set(used) - documented - tables) == []


class _Inner(msgspec.Struct, kw_only=True):
    """A nested table."""

    #: Documented.
    good: int = 1
    bad: str | None = None


class _Outer(msgspec.Struct, kw_only=True):
    inner: _Inner = msgspec.field(default_factory=_Inner)
    #: Several lines
    #: are joined.
    names: dict[str, _Inner] = msgspec.field(default_factory=dict)
    mode: str = "a"


def test_generator_reports_a_field_without_comment(gen: ModuleType) -> None:
    sections = gen.collect(_Outer)
    assert sorted(gen.undocumented(sections)) == ["inner.bad", "mode", "names.<name>.bad"]
    keys = {k.path: k for s in sections for k in s.keys}
    assert keys["inner"].meaning == "A nested table."
    assert keys["names"].meaning == "Several lines are joined."
    assert keys["inner.bad"].type == "string (optional)"
    assert keys["inner.bad"].default == "*unset*"
    assert keys["names"].default == "`{}`"
    page = gen.render(sections)
    assert "| `inner.good` | integer | `1` | Documented. |" in page
