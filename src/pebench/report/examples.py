"""Worked examples: a few forget and retain images beside the Finetuned, Goal and every
method's answers, read from the per-sample files (samples/<scenario>/<row>.jsonl)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq


@dataclass
class Example:
    scenario: str
    set: str  # f_train | retain
    image_id: str
    question: str
    reference: str
    answers: dict[str, str] = field(default_factory=dict)  # row name -> answer


def read_samples(path: Path) -> list[dict]:
    """The records of one per-sample file (an incomplete last line, if any, is skipped)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _row_files(run_dir: Path, scenario: str, results: dict) -> dict[str, Path]:
    sc = results["scenarios"][scenario]
    names = {"Finetuned": "finetuned", **{m: m for m in sc["methods"]}, "Goal": "goal"}
    return {label: run_dir / "samples" / scenario / f"{stem}.jsonl" for label, stem in names.items()
            if (run_dir / "samples" / scenario / f"{stem}.jsonl").is_file()}


def pick_examples(run_dir: Path, results: dict, per_set: int = 2) -> list[Example]:
    """For each single-target scenario: `per_set` forget (D_f_train) and retain questions of the
    scenario's concept, on distinct images, with every row's answer."""
    examples = []
    for scenario in (s for s in ("person", "event") if s in results["scenarios"]):
        files = _row_files(run_dir, scenario, results)
        if "Finetuned" not in files:
            continue
        kind = "identity" if scenario == "person" else "scene"
        forgotten = set(results["scenarios"][scenario]["split"][f"forget_{scenario}s"])
        key_field = "person_id" if scenario == "person" else "event_id"
        base = read_samples(files["Finetuned"])
        chosen: list[dict] = []
        for set_name in ("f_train", "retain"):
            seen: set = set()
            for s in base:
                target = s.get(key_field)
                if s["set"] != set_name or s["kind"] != kind or (set_name == "f_train") != (target in forgotten):
                    continue
                if target in seen:
                    continue
                seen.add(target)
                chosen.append(s)
                if len(seen) == per_set:
                    break
        wanted = {(s["set"], s["image_id"], s["question"]) for s in chosen}
        found = {key: Example(scenario, key[0], key[1], key[2], "") for key in wanted}
        for label, path in files.items():
            for s in read_samples(path):
                key = (s["set"], s["image_id"], s["question"])
                if key in found:
                    found[key].answers[label] = s["answer"]
                    found[key].reference = s["reference"]
        examples += [found[(s["set"], s["image_id"], s["question"])] for s in chosen]
    return examples


def image_data_uris(dataset_dir: str | Path | None, image_ids: set[str]) -> dict[str, str]:
    """PNG data URIs of the given images read from the dataset's images.parquet ({} if absent)."""
    path = Path(dataset_dir or "") / "images.parquet"
    if not image_ids or not path.is_file():
        return {}
    table = pq.read_table(path, columns=["image_id", "image"], filters=[("image_id", "in", sorted(image_ids))])
    return {row["image_id"]: "data:image/png;base64," + base64.b64encode(row["image"]["bytes"]).decode()
            for row in table.to_pylist()}
