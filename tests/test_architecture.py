"""The package's import graph has no cycles: every import counts, at module level, inside a
function or under TYPE_CHECKING (a cycle hidden in a function is still two modules that cannot
be understood, tested or moved apart)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pebench"


def _modules() -> dict[str, Path]:
    out = {}
    for file in SRC.rglob("*.py"):
        parts = ("pebench", *file.relative_to(SRC).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the pebench modules it imports (a `from package import name` that names a
    submodule counts as importing it)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, file in modules.items():
        package = module if file.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                targets = [base, *(f"{base}.{a.name}" for a in node.names)]
            else:
                continue
            graph[module] |= {t for t in targets if t in modules and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert "pebench.models.adapter" in import_graph()["pebench.models.shipped"]


# The parts of pebench in the order data flows through them (issue 26): a package may import only
# itself and the packages before it. `core` (errors, registries, I/O, progress, the process group,
# fingerprints) and `config` come first; the recipe runs every stage and the CLI calls the recipe.
LAYERS = ("core", "config", "data", "splits", "models", "methods", "train", "eval", "pretrain", "probes", "report",
          "store", "recipe", "cli")


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "pebench"


def test_the_top_level_names_the_parts_each_a_package():
    entries = {p.name for p in SRC.iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "__main__.py", "assets", *LAYERS}
    assert all((SRC / part / "__init__.py").is_file() for part in LAYERS)


def test_data_flows_one_way_between_the_parts():
    backwards = sorted((module, target) for module, targets in import_graph().items() for target in targets
                       if _part(module) in LAYERS and _part(target) in LAYERS
                       and LAYERS.index(_part(target)) > LAYERS.index(_part(module)))
    assert backwards == []


def test_only_the_recipe_records_stage_products_in_the_run_context():
    """The stages read `RunContext` and return what they make; only `recipe/pipeline.py` sets the
    context's attributes (the stages' records are dict entries, `ctx.timings[name] = ...`)."""
    setters = {}
    for file in (SRC / "recipe").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            for target in [t for tt in targets for t in (tt.elts if isinstance(tt, ast.Tuple) else [tt])]:
                if isinstance(target, ast.Attribute) and "ctx" in ast.unparse(target.value):
                    setters.setdefault(file.name, []).append(ast.unparse(target))
    assert set(setters) == {"pipeline.py"}, setters
    assert {"self.ctx.dataset", "self.ctx.base", "self.ctx.finetuned_key"} <= set(setters["pipeline.py"])


def test_no_module_is_over_300_lines():
    long = {str(f.relative_to(SRC)): n for f in SRC.rglob("*.py") if (n := len(f.read_text(encoding="utf-8").splitlines())) > 300}
    assert long == {}
