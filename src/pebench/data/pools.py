"""The paper's attribute pools (jobs, cities, events with keywords, Flux settings).

Facts from PEBench (arXiv 2503.12545v1, appendix); shipped as package data so that the
package needs nothing outside itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


@dataclass(frozen=True)
class Pools:
    jobs: tuple[tuple[str, str], ...]  # (category, job)
    cities: tuple[tuple[str, str], ...]  # (region, city)
    events: tuple[tuple[str, tuple[str, ...]], ...]  # (name, keywords)
    flux_settings: dict


@lru_cache(maxsize=1)
def load_pools() -> Pools:
    """Load the paper's pools from the packaged JSON file."""
    raw = json.loads(resources.files("pebench.data").joinpath("pebench_pools.json").read_text("utf-8"))
    jobs = tuple((cat, job) for cat, names in raw["job_categories"].items() for job in names)
    cities = tuple((region, city) for region, names in raw["cities_by_region"].items() for city in names)
    events = tuple((e["name"], tuple(e["keywords"])) for e in raw["events"])
    return Pools(jobs=jobs, cities=cities, events=events, flux_settings=dict(raw["flux_settings"]))
