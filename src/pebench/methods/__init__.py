"""Unlearning methods, registered by name. Importing this package registers the built-ins."""

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Iterable

from pebench.core.errors import PebenchError
from pebench.methods.base import METHODS, Method

for _module in ("ga", "gd", "kl", "po", "dpo", "npo", "simnpo", "rmu", "bgd", "siu",
                "wga", "satimp", "undial", "ceu", "pdu", "gru", "mmunlearner", "manu"):
    importlib.import_module(f"pebench.methods.{_module}")

BUILTIN_METHODS = tuple(METHODS.names())
USER_MODULE_PREFIX = "pebench_user_"  # the module name of a file loaded by `load_method_file`


def load_method_file(path: str | Path) -> None:
    """Import a user's Python file that registers methods with `@METHODS.register(...)`."""
    path = Path(path)
    if not path.is_file():
        raise PebenchError(f"method file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"{USER_MODULE_PREFIX}{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise PebenchError(f"method file {path} failed to import: {type(exc).__name__}: {exc}") from None


def load_entry_point_methods() -> None:
    """Import methods that installed packages register under the `pebench.methods` entry-point group."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="pebench.methods"):
        try:
            ep.load()
        except Exception as exc:
            raise PebenchError(f"method plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") from None


def user_method_files(names: Iterable[str]) -> list[str]:
    """The files of methods `names` that were loaded from a user's file (`load_method_file`), for
    another process of the run to load them too."""
    modules = {METHODS.get(name).__module__ for name in names}
    return sorted(sys.modules[m].__file__ for m in modules if m.startswith(USER_MODULE_PREFIX))


def make_method(name: str, params: dict | None = None) -> Method:
    """Instantiate the registered method `name` with hyperparameter overrides."""
    return METHODS.get(name)(**(params or {}))


__all__ = ["METHODS", "Method", "BUILTIN_METHODS", "make_method", "load_method_file", "load_entry_point_methods"]
