"""The plugin guide and the examples index stay true: their config snippets load,
their links resolve, and the guide names every module of the example plugin."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import msgspec
import pytest

from router_core.settings import parse_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDE = DOCS / "plugin-authoring.md"
PLUGIN = DOCS / "example-plugin"
_TOML_BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)
_LINK = re.compile(r"\]\(([^)#]+)(?:#[^)]*)?\)")


def _toml_blocks(path: Path) -> list[str]:
    return _TOML_BLOCK.findall(path.read_text(encoding="utf-8"))


@pytest.fixture
def reverse_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example plugin's settings module, imported from its folder."""
    monkeypatch.syspath_prepend(str(PLUGIN))
    import viberouter_reverse.settings as module

    try:
        yield module
    finally:
        for name in [n for n in sys.modules if n.startswith("viberouter_reverse")]:
            del sys.modules[name]


@pytest.mark.parametrize("doc", [GUIDE, PLUGIN / "README.md"], ids=lambda p: p.name)
def test_config_snippets_load(doc: Path, reverse_settings: ModuleType) -> None:
    provider_blocks = [b for b in _toml_blocks(doc) if "[providers." in b]
    assert provider_blocks, f"{doc} shows no provider config"
    for block in provider_blocks:
        settings = parse_settings(block, {"REVERSE_API_KEY": "rk-test"}, doc.name)
        for provider in settings.providers.values():
            assert provider.plugin == "reverse"
            typed = msgspec.convert(provider.settings, reverse_settings.ReverseSettings)
            assert typed.api_key in (None, "rk-test")


@pytest.mark.parametrize(
    "doc", [GUIDE, PLUGIN / "README.md", DOCS / "examples" / "README.md"], ids=lambda p: p.name
)
def test_relative_links_resolve(doc: Path) -> None:
    links = [link for link in _LINK.findall(doc.read_text()) if "://" not in link]
    assert links
    missing = [link for link in links if not (doc.parent / link).exists()]
    assert missing == []


def test_guide_names_every_module_and_test_of_the_example() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    files = sorted(PLUGIN.glob("viberouter_reverse/*.py")) + sorted(PLUGIN.glob("tests/*.py"))
    unnamed = [
        p.name
        for p in files
        if f"`viberouter_reverse/{p.name}`" not in text
        and f"`tests/{p.name}`" not in text
        and not (p.name.startswith("test_reverse_") or p.name == "conftest.py")
    ]
    assert unnamed == []


def test_examples_index_lists_every_example() -> None:
    text = (DOCS / "examples" / "README.md").read_text(encoding="utf-8")
    examples = [
        p
        for folder in ("curl", "python", "javascript")
        for p in (DOCS / "examples" / folder).iterdir()
        if p.suffix in (".sh", ".py", ".mjs")
    ]
    assert len(examples) == 20
    assert [p.name for p in examples if f"({p.parent.name}/{p.name})" not in text] == []
