"""Per-method overrides (`unlearn.overrides.<method>.<key>`) checked against what the method
declares before any work: the training settings (`lr`, `steps`, `batch_size`) and each
hyperparameter typed by its default (a float default takes any finite number, an int default an
integer, a bool a bool, a string a string) and held to the method's declared `ranges`. A bad
value is one `error:` line naming its key path, not a traceback after the fine-tunes."""

from __future__ import annotations

import math
import operator
from typing import Any, Mapping

from pebench.config import number_from_text
from pebench.core.errors import PebenchError
from pebench.methods.base import METHODS

TRAINING = {"lr": (float, ">0"), "steps": (int, ">=1"), "batch_size": (int, ">=1")}
COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def _typed(value: Any, kind: type, where: str) -> Any:
    """`value` as `kind` (an integral number is an int; a number written as text, as YAML reads
    `5e-4`, is a number), or an error naming `where`."""
    if kind in (int, float) and isinstance(value, str):
        value = number_from_text(value)
    if kind is bool or isinstance(value, bool):
        ok = kind is bool and isinstance(value, bool)
    elif kind in (int, float):
        ok = isinstance(value, (int, float)) and math.isfinite(value) and (kind is float or float(value).is_integer())
        value = kind(value) if ok else value
    else:
        ok = isinstance(value, kind)
    if not ok:
        names = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string"}
        raise PebenchError(f"invalid config at {where}: must be {names.get(kind, kind.__name__)}, not {value!r}")
    return value


def _in_range(value: Any, bounds: str, where: str) -> None:
    """`bounds`: conditions such as ">0" or ">=0,<=1" (comma-separated)."""
    for condition in bounds.split(","):
        op = next(o for o in COMPARE if condition.startswith(o))
        limit = float(condition[len(op):])
        if not COMPARE[op](value, limit):
            raise PebenchError(f"invalid config at {where}: must be {condition.replace(op, op + ' ')}, not {value}")


def check_overrides(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The overrides with every value typed, or a PebenchError naming the first bad key path."""
    out: dict[str, dict[str, Any]] = {}
    for name, settings in overrides.items():
        if name not in METHODS.names():
            raise PebenchError(f"invalid config at unlearn.overrides.{name}: no method named {name!r} "
                               f"(known: {', '.join(METHODS.names())})")
        method = METHODS.get(name)
        if not isinstance(settings, Mapping):
            raise PebenchError(f"invalid config at unlearn.overrides.{name}: must be a mapping of settings")
        out[name] = {}
        for key, value in settings.items():
            where = f"unlearn.overrides.{name}.{key}"
            if key in TRAINING:
                kind, bounds = TRAINING[key]
            elif key in method.defaults:
                kind, bounds = type(method.defaults[key]), method.ranges.get(key, "")
            else:
                known = sorted({*TRAINING, *method.defaults})
                raise PebenchError(f"invalid config at {where}: {name} has no setting {key!r} (known: {', '.join(known)})")
            typed = _typed(value, kind, where)
            if bounds:
                _in_range(typed, bounds, where)
            out[name][key] = typed
    return out


def method_settings(unlearn: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(training settings, hyperparameter overrides) of method `name` under the `unlearn`
    config section: its overrides, typed, over the shared steps, lr, grad_clip and batch size."""
    override = dict(check_overrides(unlearn.overrides).get(name, {}))
    tc = {"steps": override.pop("steps", unlearn.steps), "lr": override.pop("lr", unlearn.lr),
          "grad_clip": unlearn.grad_clip, "batch_size": override.pop("batch_size", unlearn.batch_size)}
    return tc, override
