"""Source fingerprints: what a cached stage's key includes so that editing the code a stage runs
(a built-in method, a `--method-file`, the training loop, a metric) or the data files it reads
(`pebench_pools.json`: jobs, cities, the event keywords the judge uses) recomputes that stage,
even without a version bump. Each component hashes only its own files."""

from __future__ import annotations

import hashlib
import importlib
import inspect
from functools import lru_cache
from pathlib import Path

# What each kind of stage runs, by module or package (packages: every .py and .json file under them).
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


SOURCE_SUFFIXES = (".py", ".json")  # code, and the data files packaged beside it


def _files(module_name: str) -> list[Path]:
    module = importlib.import_module(module_name)
    if hasattr(module, "__path__"):  # a package, regular or namespace
        return sorted(f for root in module.__path__ for suffix in SOURCE_SUFFIXES for f in Path(root).rglob(f"*{suffix}"))
    return [Path(inspect.getfile(module))]


@lru_cache(maxsize=None)
def source_hash(*module_names: str) -> str:
    """SHA-256 (16 hex digits) of the source and data files of the given modules / packages."""
    digest = hashlib.sha256()
    for name in module_names:
        for file in _files(name):
            digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


def component_hash(component: str) -> str:
    """The source hash of one of COMPONENTS."""
    return source_hash(*COMPONENTS[component])


def object_source_hash(obj: object) -> str:
    """SHA-256 (16 hex digits) of the whole source file defining `obj` (e.g. a method class,
    whether built in or loaded from a --method-file)."""
    return hashlib.sha256(Path(inspect.getfile(obj)).read_bytes()).hexdigest()[:16]
