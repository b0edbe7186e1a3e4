"""The environment a stage was computed in: what enters its key, and what is only recorded.

A stage is reused only where it would come out the same, so its key holds what changes its
numbers beyond the last bits:

* **keyed** (`compute_environment`): the torch, transformers and peft versions (kernels,
  model code, adapter code), the device type (CPU and GPU kernels differ), the dtype, and the
  distributed strategy and world size (each process's share of a batch and the order in which
  gradients are summed change the optimisation). The dataset's key holds the numpy and Pillow
  versions instead (the renderer draws with them).
* **provenance** (`provenance`, stored in every stage's record, reported in `results.json`):
  the keyed part plus the Python, accelerate and datasets versions, the torch thread count,
  the CPU count and the GPU's name. These change no number, or only the last bits (a CPU
  reduction split over another number of threads), so a stage computed with them different is
  reused, and a run that mixes such stages says so (`mixed_environment_warnings`).
"""

from __future__ import annotations

import os
import platform
from typing import Any, Mapping

import torch

from pebench import __version__
from pebench.core import distributed

KEYED_LIBRARIES = ("torch", "transformers", "peft")
RECORDED_LIBRARIES = ("accelerate", "datasets")
RENDER_LIBRARIES = ("numpy", "PIL")


def library_version(name: str) -> str:
    module = __import__(name)
    return str(getattr(module, "__version__", "unknown"))


def compute_environment(device: torch.device | str, dtype: str) -> dict[str, Any]:
    """What a model or evaluation stage's key holds of the environment (see the module doc)."""
    return {**{lib: library_version(lib) for lib in KEYED_LIBRARIES}, "device": torch.device(device).type,
            "dtype": dtype, "strategy": distributed.strategy(), "world_size": distributed.world_size()}


def render_environment() -> dict[str, str]:
    """What the dataset's key holds of the environment: the libraries the renderer draws with."""
    return {lib: library_version(lib) for lib in RENDER_LIBRARIES}


def provenance(device: torch.device | str, dtype: str) -> dict[str, Any]:
    """The keyed environment plus what is only recorded (see the module doc)."""
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {**compute_environment(device, dtype), "pebench": __version__, "python": platform.python_version(),
            **{lib: library_version(lib) for lib in RECORDED_LIBRARIES}, "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), **({"gpu": gpu} if gpu else {})}


def mixed_environment_warnings(current: Mapping[str, Any], stages: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One warning per setting in which reused stages differ from `current` (the environment of
    this run): which stages, and the values they were computed with. A stage stored before
    provenance was recorded counts as unknown."""
    unknown = sorted(label for label, prov in stages.items() if not prov)
    out = [f"{len(unknown)} reused stage(s) were stored without a record of their environment "
           f"({', '.join(unknown[:4])}{', ...' if len(unknown) > 4 else ''})"] if unknown else []
    for setting in current:
        differ: dict[str, list[str]] = {}
        for label, prov in sorted(stages.items()):
            if prov and setting in prov and prov[setting] != current[setting]:
                differ.setdefault(str(prov[setting]), []).append(label)
        for value, labels in differ.items():
            out.append(f"{len(labels)} reused stage(s) were computed with {setting} {value}, this run has "
                       f"{current[setting]} ({', '.join(labels[:4])}{', ...' if len(labels) > 4 else ''})")
    return out
