"""Procedural dataset build speed: the default set and the paper-scale set (200 persons x 40
events = 8,000 PEBench images), rendered, encoded as PNG and written as parquet. Prints JSON.

    python benchmarks/data_build.py [--persons 200] [--events 40]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=200)
    ap.add_argument("--events", type=int, default=40)
    args = ap.parse_args()

    from pebench.core.progress import quiet_libraries
    from pebench.config import load_config
    from pebench.data.build import build_dataset, load_dataset_dir, planned_images

    quiet_libraries()
    default = load_config("default").data
    paper = default.model_copy(update={"persons": args.persons, "events": args.events,
                                       "holdout_events": min(default.holdout_events, 40 - args.events)})
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in (("default", default), ("paper_scale", paper)):
            start = time.perf_counter()
            path = build_dataset(cfg, f"{tmp}/{name}")
            built = time.perf_counter() - start
            start = time.perf_counter()
            data = load_dataset_dir(path)
            loaded = time.perf_counter() - start
            size = sum(f.stat().st_size for f in path.iterdir())
            out[name] = {"images": planned_images(cfg), "pebench_images": len(data.of_kind("pebench")),
                         "build_s": round(built, 2), "load_s": round(loaded, 2), "megabytes": round(size / 1e6, 1),
                         "images_per_s": round(planned_images(cfg) / built, 1)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
