"""The docs' generated block about the shipped base (docs/base.md: `base`), and whether a stored
record was made on that base; written by readme_results.py from the base's own files
(`pretrain.json`, its size on disk) and `scripts/probe_base.py`'s re-probe."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "src" / "pebench" / "assets" / "tiny-base"
BASE_PROBE = ROOT / "docs" / "results" / "base_probe.json"


def shipped_base_id() -> str:
    from pebench.models.shipped import verify_base

    return verify_base(BASE)


def made_by_other_code(record: dict) -> str:
    """Which code components (`pebench.core.fingerprint.COMPONENTS`) differ between a stored run
    and this checkout ("" when none: the run is what this code makes)."""
    from pebench.core.fingerprint import code_identity

    stored = (record.get("code") or {}).get("components")
    if not stored:
        return "it records no code identity"
    return ", ".join(f"{name} {stored.get(name)} != {digest}" for name, digest in code_identity().items()
                     if stored.get(name) != digest)


def made_on_the_shipped_base(record: dict) -> bool:
    """Whether a stored run (or stability benchmark) records the shipped base it was made with."""
    return (record.get("base") or {}).get("fingerprint") == shipped_base_id()


def _base_probe_sentence() -> str:
    """The re-probe of the shipped weights (scripts/probe_base.py), refused if the base changed since."""
    if not BASE_PROBE.is_file():
        raise SystemExit(f"error: {BASE_PROBE} is missing (run scripts/probe_base.py)")
    probe = json.loads(BASE_PROBE.read_text(encoding="utf-8"))
    if probe["base_sha256sums"] != shipped_base_id():
        raise SystemExit(f"error: {BASE_PROBE} probed another base (run scripts/probe_base.py)")
    return (f"The shipped base re-probed by `scripts/probe_base.py` ({probe['n']} fresh renders per probe, "
            f"answers up to {probe['name_tokens']} tokens as in the evaluation): **Real {probe['real']:.1f}** asked "
            f"\"Who is this person?\", **{probe['real_held_out']:.1f} asked in the paraphrase probe's held-out "
            f"phrasings** (which no pretraining or fine-tuning step uses; asked in each alone: {_by_phrasing(probe)}); "
            f"World {probe['world_listing']:.1f} from "
            f"listing, {probe['world_yesno']:.1f} asked yes / no; on the same public figures, the extraction forms: "
            f"multiple choice {probe['choice']:.1f} (chance 25), confirmation {probe['confirm']:.1f} (chance 50), the "
            f"initial as a hint {probe['hint_initial']:.1f}. The Real probes of stage 1 above cut answers off at 12 "
            "tokens, which drops the end of the longer reserved names (\"This is Wilhelmina Montg\"), so they "
            "under-count: they are kept as measured.")


def _by_phrasing(probe: dict) -> str:
    """The base's Real asked in each held-out phrasing alone, as '"Who is shown in this image?" 100.0, ...'."""
    return ", ".join(f"\"{q}\" {v:.1f}" for q, v in probe["real_held_out_by_phrasing"].items())


def _stage_line(record: dict, what: str) -> str:
    hardware = record.get("hardware", {})
    return (f"{what}: {record['steps']} steps of batch {record['config']['batch_size']} "
            f"({record['steps'] * record['config']['batch_size']:,} freshly rendered examples, none repeated) at lr "
            f"{record['config']['lr']:g}, {record['wall_s'] / 60:.0f} min on {hardware.get('threads', '?')} CPU threads "
            f"({hardware.get('machine', '?')}, torch {hardware.get('torch', '?')})")


def _probe_rows(record: dict, stage: str) -> list[str]:
    return [f"| {stage} | {p['step']} | {p['real']:.1f} | {p.get('real_held_out', float('nan')):.1f} | "
            f"{p['world_listing']:.1f} | {p['world_yesno']:.1f} |" for p in record["probes"]]


def base_section() -> str:
    """What the shipped base is: its pretraining stages, time, size and held-out probes."""
    record = json.loads((BASE / "pretrain.json").read_text(encoding="utf-8"))
    stages = [record.get("earlier"), record] if record.get("earlier") else [record]
    size = sum(f.stat().st_size for f in BASE.iterdir() if f.is_file())
    lines = [_stage_line(stages[0], "one phrasing per task, from a random initialisation")]
    if len(stages) > 1:
        lines.append(_stage_line(record, "then every task in its pool of phrasings (`pebench.data.phrasings`) and the "
                                         "extraction forms, continued from those weights (`pebench pretrain --init`)"))
    rows = [row for i, stage in enumerate(stages) for row in _probe_rows(stage, str(i + 1))]
    return "\n".join([
        f"The shipped base ({size / 2**20:.1f} MB on disk in float16) was pretrained in {len(stages)} stage(s): "
        + "; ".join(lines) + ". Held-out probes during pretraining (80 fresh renders each; Real: public figures named, "
        "asked \"Who is this person?\" and, from stage 2 on, in the held-out phrasings; World: POPE answered from the "
        "listed objects, and POPE asked yes / no):", "",
        "| stage | step | Real | Real, held-out phrasings | World (listing) | World (yes / no) |", "|---|---|---|---|---|---|",
        *rows, "", _base_probe_sentence(), ""])
