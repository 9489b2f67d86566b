"""docs/architecture.md stays the map of the code: every router_core module is in its
module map, under the heading of the layer tests/test_layering.py puts it in, and every
file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_layering import CORE, LAYERS, ROOT, core_modules, layer_of

DOC = ROOT / "docs" / "architecture.md"
_HEADING = re.compile(r"^### (\d+)\. (.+)$")
_MODULE = re.compile(r"`(router_core/[\w/]*?(?:\.py|/))`")


def module_map() -> dict[str, str]:
    """Path named in the module map (``router_core/x.py`` or a package ``router_core/d/``)
    -> the layer heading it is listed under."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## Module map")
    end = text.index("\n## ", start + 1)
    listed: dict[str, str] = {}
    layer = ""
    for line in text[start:end].splitlines():
        if heading := _HEADING.match(line):
            layer = heading.group(2).strip()
        elif line.startswith("- ") and (first := _MODULE.search(line)):
            listed[first.group(1)] = layer
    return listed


def _paths(module: str, path: Path) -> list[str]:
    rel = path.relative_to(CORE.parent).as_posix()
    if path.name == "__init__.py":  # a package may be listed by its folder
        return [rel, rel.removesuffix("__init__.py")]
    return [rel]


def test_every_module_is_in_the_module_map_under_its_layer() -> None:
    listed = module_map()
    missing, misplaced = [], []
    for module, path in core_modules().items():
        names = [p for p in _paths(module, path) if p in listed]
        if not names:
            if path.name != "__init__.py" or path.stat().st_size > 200:
                missing.append(_paths(module, path)[0])
            continue
        expected = LAYERS[layer_of(module)][0]
        if listed[names[0]] != expected:
            misplaced.append(f"{names[0]} is under {listed[names[0]]!r}, not {expected!r}")
    assert missing == [], f"add to docs/architecture.md's module map: {missing}"
    assert misplaced == [], "\n".join(misplaced)


def test_the_module_map_names_only_files_that_exist() -> None:
    gone = [p for p in module_map() if not (CORE.parent / p).exists()]
    assert gone == [], f"docs/architecture.md names files that do not exist: {gone}"


def test_the_layer_headings_follow_the_layering_test() -> None:
    text = DOC.read_text(encoding="utf-8")
    headings = [m.groups() for line in text.splitlines() if (m := _HEADING.match(line))]
    assert headings == [(str(i + 1), name) for i, (name, _) in enumerate(LAYERS)]
