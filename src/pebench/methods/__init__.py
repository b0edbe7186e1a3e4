"""Unlearning methods, registered by name. Importing this package registers the built-ins."""

import importlib
import importlib.util
import sys
from pathlib import Path

from pebench.core.errors import PebenchError
from pebench.methods.base import METHODS, Method

for _module in ("ga", "gd", "kl", "po", "dpo", "npo", "simnpo", "rmu", "bgd", "siu",
                "wga", "satimp", "undial", "ceu", "pdu", "gru", "mmunlearner", "manu"):
    importlib.import_module(f"pebench.methods.{_module}")

BUILTIN_METHODS = tuple(METHODS.names())


def load_method_file(path: str | Path) -> None:
    """Import a user's Python file that registers methods with `@METHODS.register(...)`."""
    path = Path(path)
    if not path.is_file():
        raise PebenchError(f"method file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"pebench_user_{path.stem}", path)
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


def make_method(name: str, params: dict | None = None) -> Method:
    """Instantiate the registered method `name` with hyperparameter overrides."""
    return METHODS.get(name)(**(params or {}))


__all__ = ["METHODS", "Method", "BUILTIN_METHODS", "make_method", "load_method_file", "load_entry_point_methods"]
