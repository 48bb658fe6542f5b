"""The import graph of pbgml, read from the source (ast): no cycle, no upward import.

The layers, each importing only those below it (see docs/design.rst):
1. the registry layer: records, lookup, lazy loaders, plugins, the table of groups;
2. components: nn, optim, data, losses, metrics, train (plain PyTorch);
3. the config layer: typed configs, check, instantiate, YAML, the Hydra store;
4. run (config -> trainer), then the command line.
``pbgml/__init__.py`` is the facade above them all (its heavy names are lazy).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pbgml

SRC = Path(pbgml.__file__).parent
LAYERS = {
    1: (
        "pbgml._errors",
        "pbgml._registry",
        "pbgml._plugins",
        "pbgml._groups",
        "pbgml.registry",
        "pbgml._torch_catalog",
        "pbgml._names",
        "pbgml._version",
        "pbgml._optional",
        "pbgml._validate",
    ),
    2: ("pbgml.nn", "pbgml.optim", "pbgml.data", "pbgml.losses", "pbgml.metrics", "pbgml.train"),
    3: ("pbgml.configs", "pbgml._config", "pbgml.hydra", "pbgml.sphinxext", "pbgml.conf"),
    4: ("pbgml._run", "pbgml._export", "pbgml._launch"),
    5: ("pbgml.cli", "pbgml.__main__", "pbgml._cli"),
}
CONFIG_LIBRARIES = ("hydra", "omegaconf", "hydra_zen")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str) -> set[str]:
    """Every module ``module`` imports (top level or in a function), TYPE_CHECKING aside."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in MODULES else base)
            visit(child)

    visit(tree)
    return found


GRAPH = {m: {i for i in _imports(m) if i in MODULES and i != m} for m in MODULES}
EXTERNAL = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> int | None:
    for level, prefixes in LAYERS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return level
    return None


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in MODULES if m != "pbgml" and _layer(m) is None]
    assert unplaced == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                dfs(dep, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            dfs(module, [])
    return cycles


def test_no_import_cycle() -> None:
    graph = {m: deps - {"pbgml"} for m, deps in GRAPH.items() if m != "pbgml"}
    assert _cycles(graph) == []


def test_controls_a_cycle_and_a_function_level_import_are_seen() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    # function-level imports count: _check's lazy import of the finalize hooks is an edge
    assert "pbgml._config._hooks" in GRAPH["pbgml._config._check"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "pbgml"))
def test_no_upward_import(module: str) -> None:
    level = _layer(module)
    assert level is not None
    upward = sorted(dep for dep in GRAPH[module] if dep != "pbgml" and (_layer(dep) or 0) > level)
    assert upward == [], f"{module} (layer {level}) imports {upward}"
    if any(dep == "pbgml" for dep in GRAPH[module]):  # `from pbgml import X`: X's layer
        tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "pbgml" and not node.level:
                for alias in node.names:
                    assert f"pbgml.{alias.name}" in MODULES, (
                        f"{module} imports pbgml.{alias.name} through the facade; "
                        "import it from its own module"
                    )


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if _layer(m) in (1, 2)), ids=lambda m: m
)
def test_registry_and_components_never_import_config_libraries(module: str) -> None:
    bad = sorted(name for name in EXTERNAL[module] if name.partition(".")[0] in CONFIG_LIBRARIES)
    assert bad == [], f"{module} imports {bad}"
