"""Probe the shipped base on fresh held-out renders and store the result for the README.

    python scripts/probe_base.py [--n 200]   # writes docs/results/base_probe.json

The probes recorded during pretraining (`pretrain.json`) are kept as measured; this re-probe
runs the current probe code (`pebench.pretrain.probes`) on the shipped weights: Real naming in
the canonical phrasing and in the paraphrase probe's held-out phrasings (`real_held_out`, and
asked in each held-out phrasing alone: `real_held_out_by_phrasing`),
World, and, on the same public figures, the extraction forms the robustness probes ask (`choice`,
`confirm`, `hint_initial`: `pebench.probes.extraction`'s forms). It records the base's checksum so
`scripts/readme_results.py --check` fails if the base changes without a new probe.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

OUT = Path(__file__).resolve().parent.parent / "docs" / "results" / "base_probe.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="fresh renders per probe (public figures cycled)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from pebench.core.progress import quiet_libraries
    from pebench.config import ModelConfig
    from pebench.models import build_model
    from pebench.models.shipped import verify_base
    from pebench.pretrain.probes import NAME_TOKENS, extraction_probe, held_out_phrasings, probe
    from pebench.pretrain.recipe import StreamEncoder

    quiet_libraries()
    vlm = build_model(ModelConfig(), [], 0)  # the default model: the shipped base
    record = {"base_sha256sums": verify_base(), "n": args.n, "name_tokens": NAME_TOKENS,
              **probe(vlm, StreamEncoder(vlm), n=args.n), **extraction_probe(vlm, StreamEncoder(vlm), n=args.n),
              "real_held_out_by_phrasing": held_out_phrasings(vlm, StreamEncoder(vlm), n=args.n)}
    args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
