"""Source fingerprints: what a cached stage's key includes so that editing the code a stage runs
(a built-in method, a `--method-file` and the helpers it imports, the training loop, a metric,
`core/distributed.py`) or the data files it reads (`pebench_pools.json`: jobs, cities, the event
keywords the judge uses) recomputes that stage, even without a version bump.

A component is its root modules plus every pebench module they import, transitively (read from
the source with `ast`, so a new import is covered the moment it is written). The walk does not
enter orchestration (`pebench.recipe`, `pebench.cli`, `pebench.report`, `pebench.store`: a
component hashes such a module only where it lists it) nor a later stage's package, whose code
its own component keys (evaluation keys chain from model keys)."""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
from functools import lru_cache
from pathlib import Path

# What each kind of stage runs: root modules or packages (a root package: every .py and .json
# file under it), and the packages of later stages the walk does not enter.
COMPONENTS = {
    "data": ("pebench.data",),
    # (a method's own file is in its row's key; the helpers methods share are here)
    "training": ("pebench.train", "pebench.models", "pebench.methods.base", "pebench.methods.finetune",
                 "pebench.methods.token_weighted", "pebench.methods.modality",
                 "pebench.pretrain.tasks", "pebench.splits",
                 # how the stages build their streams and examples (replay, refusals, forget views)
                 "pebench.recipe.pipeline", "pebench.recipe.context", "pebench.recipe.foundation", "pebench.recipe.training",
                 "pebench.recipe.stage_io",
                 "pebench.recipe.support"),
    "eval": ("pebench.eval",),
    "probes": ("pebench.probes", "pebench.recipe.probing"),
}
ORCHESTRATION = ("pebench.recipe", "pebench.cli", "pebench.report", "pebench.store")
LATER_STAGES = {"data": ("pebench.splits", "pebench.models", "pebench.train", "pebench.methods", "pebench.eval", "pebench.probes"),
                "training": ("pebench.eval", "pebench.probes"), "eval": ("pebench.probes",), "probes": ()}

SOURCE_SUFFIXES = (".py", ".json")  # code, and the data files packaged beside it


def _files(module_name: str) -> list[Path]:
    """A root's files: a package's whole tree (code and packaged data), or a module's file."""
    module = importlib.import_module(module_name)
    if hasattr(module, "__path__"):  # a package, regular or namespace
        return sorted(f for root in module.__path__ for suffix in SOURCE_SUFFIXES for f in Path(root).rglob(f"*{suffix}"))
    return [Path(inspect.getfile(module))]


def _module_file(name: str) -> Path | None:
    """The source file of module `name` (a package's `__init__.py`), or None when `name` is not a
    module (`from pebench.core.errors import PebenchError` names a class too)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def imported_modules(file: Path, prefix: str = "pebench") -> set[str]:
    """The absolute imports of `file` that name modules under `prefix` (`from a import b` gives
    `a` and, when it is a module, `a.b`)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if (n == prefix or n.startswith(prefix + ".")) and _module_file(n) is not None}


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@lru_cache(maxsize=None)
def component_files(component: str) -> tuple[Path, ...]:
    """Every file whose bytes enter `component`'s hash: its roots' files and, transitively, the
    files of the pebench modules they import (outside orchestration and later stages)."""
    stop = ORCHESTRATION + LATER_STAGES[component]
    files = {f for root in COMPONENTS[component] for f in _files(root)}
    queue = [f for f in files if f.suffix == ".py"]
    while queue:
        for name in imported_modules(queue.pop()):
            file = _module_file(name)
            if _within(name, stop) or file is None or file in files:
                continue
            files.add(file)
            queue.append(file)
    return tuple(sorted(files))


def _digest(files: list[Path] | tuple[Path, ...], root: Path | None = None) -> str:
    digest = hashlib.sha256()
    for file in files:
        label = file.relative_to(root).as_posix() if root is not None else file.name
        digest.update(label.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def component_hash(component: str) -> str:
    """SHA-256 (16 hex digits) of `component_files(component)`."""
    package_root = Path(importlib.import_module("pebench").__file__).parent.parent
    return _digest(component_files(component), package_root)


def code_identity() -> dict[str, str]:
    """Every component's hash: what results.json records as the code that made a run."""
    return {name: component_hash(name) for name in COMPONENTS}


def local_imports(file: Path) -> list[Path]:
    """`file` and, transitively, the modules it imports that live in its own folder (a
    `--method-file`'s helpers), sorted."""
    folder, found, queue = file.parent, {file}, [file]
    while queue:
        tree = ast.parse(queue.pop().read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            for name in names:
                candidates = (folder / f"{name.replace('.', '/')}.py", folder / name.replace(".", "/") / "__init__.py")
                for helper in candidates:
                    if helper.is_file() and helper not in found:
                        found.add(helper)
                        queue.append(helper)
    return sorted(found)


def object_source_hash(obj: object) -> str:
    """SHA-256 (16 hex digits) of the source file defining `obj` (a method class, built in or
    loaded from a --method-file), of the helper files beside it that it imports, and of the
    pebench modules it imports outside the training component (e.g. `pebench.eval.text`)."""
    file = Path(inspect.getfile(obj))
    files = local_imports(file)
    pebench_modules = {_module_file(name) for f in files for name in imported_modules(f)}
    shared = set(component_files("training"))
    extra = sorted(f for f in pebench_modules if f is not None and f not in shared)
    return _digest([*files, *extra])


def git_commit() -> dict[str, str | bool] | None:
    """The commit of the git checkout pebench runs from (an editable install), and whether its
    `src/` differs from that commit; None when pebench is not run from a checkout."""
    import subprocess

    checkout = Path(importlib.import_module("pebench").__file__).parent.parent.parent
    if not (checkout / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
        status = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--", "src"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if commit.returncode != 0:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
