"""A copy of a stage store that keeps its datasets and models but none of its rows.

What `benchmarks/workers.py` and the workers' end-to-end test start from: a run on the copy
finds its data, base, Finetuned model and Goals stored and computes every evaluation and probe
again."""

from __future__ import annotations

import shutil
from pathlib import Path

ROW_KINDS = ("stages", "samples")  # evaluation and probe records, and their samples


def copy_without_rows(source: Path, target: Path) -> None:
    """Copy the store at `source` to `target` (a new directory) with its row kinds emptied and
    no locks."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("locks", *ROW_KINDS))
    for kind in ROW_KINDS:
        (target / kind).mkdir()
