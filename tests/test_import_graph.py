"""The layout's import rules (docs/architecture.md "Layout"), checked on the source with :mod:`ast`.

ruff has no import-cycle rule, so this test walks every ``import`` of the product packages, module level
and function level alike (a function-level import that dodges a cycle at import time is still a cycle in
the design), and skips only ``if TYPE_CHECKING:`` blocks. It fails on:

* any import cycle between modules;
* a folder importing what its row of :data:`MAY_IMPORT` does not allow (``workflows/`` only ``models/``,
  itself, the Temporal SDK, pydantic and the standard library; ``kalshi/`` never Temporal or the trader;
  ``simulator/`` shares only ``models/`` with the trader; ...);
* the simulator's engine (what the RL training environment runs in-process) reaching its HTTP half.

Exceptions would be listed in :data:`ALLOWED_CYCLES` and :data:`ALLOWED_LAYER_EDGES`; both are empty (issue 7
phase B removed the last ones), and an entry that no longer occurs fails the test too, so the lists only shrink.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "workflows", "activities", "workers", "kalshi", "simulator", "rl", "recording", "trading")
"""The product's top-level packages (``tests/`` and ``bench/`` may import anything)."""

STDLIB = "<stdlib>"

MAY_IMPORT: dict[str, frozenset[str]] = {
    "models": frozenset({"models", STDLIB, "pydantic", "sqlmodel", "sqlalchemy"}),
    "workflows": frozenset({"workflows", "models", STDLIB, "temporalio", "pydantic"}),
    "kalshi": frozenset({"kalshi", "models", STDLIB, "httpx", "websockets", "msgspec", "cryptography", "pydantic"}),
    "recording": frozenset({"recording", "kalshi", "models", STDLIB, "sqlalchemy", "msgspec", "pydantic", "prometheus_client"}),
    "rl": frozenset({"rl", "models", "kalshi", "simulator", STDLIB, "pydantic", "numpy", "torch", "gymnasium",
                     "stable_baselines3", "sb3_contrib", "matplotlib"}),
    "simulator": frozenset({"simulator", "models", STDLIB, "aiohttp", "click", "cryptography", "pydantic", "yaml"}),
    "trading": frozenset({"trading", "kalshi", "rl", "recording", "models", STDLIB}),
    "activities": frozenset({"activities", "trading", "kalshi", "recording", "rl", "models", "workflows", STDLIB, "temporalio",
                             "pydantic"}),
    "workers": frozenset({"workers", "workflows", "activities", "trading", "kalshi", "recording", "rl", "models", "simulator", STDLIB,
                          "temporalio", "click", "httpx", "aiohttp", "prometheus_client", "pydantic", "pydantic_settings",
                          "tqdm"}),
}  # fmt: skip
"""What each folder may import: project folders by name, third-party packages by import name, and the standard
library. ``rl`` may use ``simulator``'s engine (the training environment fills orders with it in-process)."""

NARROW_IMPORTS: dict[tuple[str, str], frozenset[str]] = {
    ("activities", "workflows"): frozenset({"workflows.names"}),
    ("workers", "simulator"): frozenset({"simulator.__main__", "simulator.scenario"}),
    ("rl", "simulator"): frozenset(
        {"simulator.ledger", "simulator.matching", "simulator.liquidity", "simulator.exchange", "simulator.replay"}
        | {"simulator.book", "simulator.orders", "simulator.accounts", "simulator.market", "simulator.tape"}
        | {"simulator.events", "simulator.clock", "simulator.synthetic", "simulator.errors", "simulator.timeutil"}
    ),
}
"""Where a folder may import only some modules of another: activities take only names (activity and workflow
type names) from workflows; workers start the simulator's command line and read its fault scenario files; rl uses
only the simulator's engine."""

ENGINE = ("simulator.ledger", "simulator.matching", "simulator.liquidity", "simulator.exchange", "simulator.replay")
SERVED = ("aiohttp", "simulator.server", "simulator.rest", "simulator.ws", "simulator.control", "simulator.context")
"""The simulator's engine must not reach its served half, even transitively."""

ALLOWED_CYCLES: tuple[frozenset[str], ...] = ()
"""Import cycles tolerated as they are (none: phase B of issue 7 broke the last one up)."""

ALLOWED_LAYER_EDGES: frozenset[tuple[str, str]] = frozenset()
"""Module edges exempt from the folder rules."""


@dataclass(frozen=True)
class Import:
    """One import statement's target as seen from ``module`` (``target`` is a module or a top-level name)."""

    module: str
    target: str
    line: int
    in_function: bool


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> list[str]:
    """Absolute names an ``ImportFrom`` refers to: ``from a import b`` is ``a.b`` when that is a module."""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    targets = []
    for alias in node.names:
        candidate = f"{prefix}.{alias.name}"
        targets.append(candidate if candidate in MODULES else prefix)
    return targets


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path) -> Iterator[Import]:
    is_package = path.name == "__init__.py"

    def walk(node: ast.AST, in_function: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    yield from walk(other, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, child.lineno, in_function)
            elif isinstance(child, ast.ImportFrom):
                for target in _resolve(module, is_package, child):
                    yield Import(module, target, child.lineno, in_function)
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(child, nested)

    yield from walk(ast.parse(path.read_text(), str(path)), False)


IMPORTS = [imp for module, path in MODULES.items() for imp in _imports(module, path)]


def _project_module(target: str) -> str | None:
    """The project module an import target names (the longest known prefix), or None for outside names."""
    name = target
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _folder_of(target: str) -> str:
    top = target.split(".")[0]
    return STDLIB if top in sys.stdlib_module_names or top == "__future__" else top


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        target = _project_module(imp.target)
        if target is not None and target != imp.module:
            graph[imp.module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_every_package() -> None:
    assert {m.split(".")[0] for m in MODULES} == set(PACKAGES)
    assert ("workers.sim_cli", "simulator.__main__") in {
        (i.module, _project_module(i.target)) for i in IMPORTS if i.in_function
    }, "function-level imports must be part of the graph"


def test_there_are_no_import_cycles() -> None:
    cycles = [c for c in _cycles(_graph()) if frozenset(c) not in ALLOWED_CYCLES]
    assert cycles == [], f"import cycles (a function-level import does not break one): {cycles}"


def test_the_allowlists_only_name_what_still_exists() -> None:
    graph = _graph()
    found = {frozenset(c) for c in _cycles(graph)}
    stale_cycles = [sorted(c) for c in ALLOWED_CYCLES if c not in found]
    assert stale_cycles == [], f"delete these ALLOWED_CYCLES entries, the cycles are gone: {stale_cycles}"
    stale_edges = sorted(edge for edge in ALLOWED_LAYER_EDGES if edge[1] not in graph[edge[0]])
    assert stale_edges == [], f"delete these ALLOWED_LAYER_EDGES entries, the imports are gone: {stale_edges}"


def test_every_folder_imports_only_what_it_may() -> None:
    bad = []
    for imp in IMPORTS:
        folder = imp.module.split(".")[0]
        project = _project_module(imp.target)
        other = project.split(".")[0] if project is not None else _folder_of(imp.target)
        if project is not None and (imp.module, project) in ALLOWED_LAYER_EDGES:
            continue
        allowed = other in MAY_IMPORT[folder]
        narrow = NARROW_IMPORTS.get((folder, other))
        if allowed and narrow is not None and project is not None:
            allowed = project in narrow
        if not allowed:
            bad.append(f"{MODULES[imp.module].relative_to(ROOT)}:{imp.line}: {imp.module} imports {imp.target}")
    assert bad == [], "imports across the layout's rules (docs/architecture.md):\n" + "\n".join(bad)


def test_the_simulator_engine_never_reaches_its_http_half() -> None:
    graph = _graph()
    outside: dict[str, set[str]] = {}
    for imp in IMPORTS:
        if _project_module(imp.target) is None:
            outside.setdefault(imp.module, set()).add(imp.target)
    for start in ENGINE:
        seen = {start}
        todo = [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        reached = {m for m in seen if m.startswith(SERVED)}
        reached |= {t for m in seen for t in outside.get(m, ()) if t.startswith(SERVED)}
        assert reached == set(), f"{start} reaches the served half: {sorted(reached)}"
