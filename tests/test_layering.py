"""router_core's import graph: no cycles, no upward imports, plugins on the contract only.

The graph is read from the source with ``ast`` (every ``import`` counts: module level,
inside functions, under ``TYPE_CHECKING``). A module may import modules of its own layer
or of a layer below; the cycle check then covers imports inside one layer. Bottom to top:

1. wire: ``router_core`` (the version), ``api/``, ``errors``, the dialects' ``wire``
   modules. Data shapes and the error tree; they import nothing else of the core.
2. shared: settings (``settings``, ``*_settings``), limit values (``limits/base``,
   ``limits/periods``), store records and protocols (``store/base``,
   ``store/responses_base``), ``request_context``, ``installed``. Types and settings
   every layer above passes around.
3. contract: ``framing``, ``plugin_api``. The SSE/NDJSON readers and the plugin
   contract, the only core module a plugin's code imports.
4. parts: one job each, no app and no request in hand: catalog and routing
   (``catalog``, ``balancer``, ``circuit``, ``timeouts``, provider ``discovery``),
   checks (``guards``, ``filters``, ``transforms``), pricing, state backends
   (``limits/*``, ``store/*``, the shared Redis connection ``redis_link``), ``auth``,
   ``accounts``, ``ledger``, ``public_records``, state ``backup``, ``metrics``, ``logs``,
   ``upstream`` and ``upstream_secrets``, ``openapi``, the dialect codecs (``dialects/*``).
5. upstream calls: ``dispatch`` and its pieces (attempt loop, exchanges, the stream
   iterator): a canonical request in, a completion or chunks out.
6. app state: ``state`` (what a running app holds, ``STATE``) and ``drain`` (the
   requests it is serving, and their cut when it stops).
7. request pipeline: ``pipeline``, ``accounting``, ``streaming`` and the other
   per-endpoint runs built on them: one request end to end.
8. server: ``boundary``, ``http_server``, ``http_protocol``, ``shutdown``,
   ``metrics_server``, ``cors``, ``reload`` (a running server re-reads its config),
   ``model_refresh`` (it re-lists discovering providers' models).
9. endpoints: ``handlers/*``, ``dashboard/*`` (the dashboard's own settings sit in 2,
   its CLI in 10).
10. entry points: ``app``, ``serve``, ``cli``, ``cli_common``, ``dashboard/cli``, and
    ``plugin_testing`` (the kit plugin tests use; nothing in the core imports it).

Plugins (package and tests) import only ``router_core.plugin_api`` and
``router_core.plugin_testing``.

A new module is placed in LAYERS below.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "router_core"
PLUGINS = ROOT / "plugins"

#: Bottom to top. Names are module paths below ``router_core`` (``""`` is the package
#: itself); an exact name wins over a pattern, a longer pattern over a shorter one.
LAYERS: list[tuple[str, list[str]]] = [
    ("wire", ["", "api", "api.*", "errors", "dialects", "dialects.*.wire"]),
    (
        "shared",
        [
            "settings",
            "*_settings",
            "dashboard.settings",
            "installed",
            "limits",
            "limits.base",
            "limits.periods",
            "store",
            "store.base",
            "store.responses_base",
            "request_context",
            "running_task",
        ],
    ),
    ("contract", ["framing", "plugin_api"]),
    (
        "parts",
        [
            "catalog",
            "balancer",
            "circuit",
            "timeouts",
            "discovery",
            "plugin_loader",
            "guards",
            "filters",
            "transforms",
            "pricing",
            "price_source",
            "price_list",
            "image_fetch",
            "limits.*",
            "redis_link",
            "backup",
            "store.*",
            "auth",
            "accounts",
            "ledger",
            "public_records",
            "metrics",
            "logs",
            "upstream",
            "upstream_secrets",
            "openapi",
            "token_runs",
            "dialects.*",
        ],
    ),
    ("upstream calls", ["dispatch", "dispatch.*", "attempts", "exchange", "stream_iter"]),
    ("app state", ["state", "drain"]),
    (
        "request pipeline",
        ["pipeline", "pipeline.*", "accounting", "streaming", "*_call"],
    ),
    (
        "server",
        [
            "boundary",
            "http_server",
            "http_protocol",
            "shutdown",
            "metrics_server",
            "cors",
            "reload",
            "model_refresh",
        ],
    ),
    ("endpoints", ["handlers", "handlers.*", "dashboard", "dashboard.*"]),
    ("entry points", ["app", "serve", "cli", "cli_common", "dashboard.cli", "plugin_testing"]),
]

#: What a plugin (its package and its tests) may import of the core.
PLUGIN_MAY_IMPORT = {"router_core.plugin_api", "router_core.plugin_testing"}


def core_modules() -> dict[str, Path]:
    """Every module of router_core by dotted name relative to it ("" = the package)."""
    found: dict[str, Path] = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(CORE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(path: Path, package: str | None = None) -> Iterator[str]:
    """Every absolute name ``path`` imports (``from a import b`` gives ``a.b``); relative
    imports are resolved against ``package``, or skipped without one."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if package is None:
                    continue
                parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the router_core modules it imports (names relative to router_core)."""
    modules = core_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        dotted = f"router_core.{name}".rstrip(".")
        package = dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]
        deps: set[str] = set()
        for full in imported_names(path, package):
            if full != "router_core" and not full.startswith("router_core."):
                continue
            target = full.removeprefix("router_core").removeprefix(".")
            # ``from router_core.x import y``: y is a module or a name inside x.
            while target not in modules:
                target = target.rpartition(".")[0]
            if target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module``; AssertionError for a module not placed."""
    best: tuple[int, int] | None = None  # (specificity, layer)
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern:
                rank = 10_000
            elif "*" in pattern and fnmatch.fnmatchcase(module, pattern):
                rank = len(pattern)
            else:
                continue
            if best is None or rank > best[0]:
                best = (rank, index)
    assert best is not None, f"router_core.{module} has no layer: add it to LAYERS"
    return best[1]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_every_module_has_a_layer() -> None:
    unplaced = []
    for module in core_modules():
        try:
            layer_of(module)
        except AssertionError:
            unplaced.append(f"router_core.{module}")
    assert unplaced == [], f"place these in LAYERS (tests/test_layering.py): {unplaced}"


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(f"router_core.{m}" for m in cycle or [])


def test_no_upward_import() -> None:
    upward = []
    for module, deps in import_graph().items():
        for dep in sorted(deps):
            if layer_of(dep) > layer_of(module):
                upward.append(
                    f"router_core.{module} ({LAYERS[layer_of(module)][0]}) imports "
                    f"router_core.{dep} ({LAYERS[layer_of(dep)][0]})"
                )
    assert upward == [], "imports against the layer order:\n" + "\n".join(upward)


def test_plugins_import_only_the_contract() -> None:
    files = sorted(PLUGINS.glob("*/**/*.py"))
    assert files, "no plugin sources found"
    stray = []
    for path in files:
        if ".egg-info" in str(path) or "/build/" in str(path):
            continue
        for full in imported_names(path):
            if full.startswith("router_core") and not any(
                full == allowed or full.startswith(allowed + ".") for allowed in PLUGIN_MAY_IMPORT
            ):
                stray.append(f"{path.relative_to(ROOT)}: {full}")
    assert stray == [], (
        "plugins import only router_core.plugin_api / plugin_testing:\n" + "\n".join(stray)
    )


def test_the_checks_catch_what_they_are_for() -> None:
    # The cycle finder and the layer map, on cases with a known answer.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer_of("errors") < layer_of("plugin_api") < layer_of("dispatch") < layer_of("app")
    assert layer_of("dashboard.settings") < layer_of("dashboard.routes") < layer_of("dashboard.cli")
