"""What `pebench run` needs around its stages: library versions, the shared
example encoder, seed aggregation, run-directory checks and fallback warnings."""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, pstdev
from typing import Any, Callable

import torch

from pebench import __version__
from pebench.config import EvalConfig, RunConfig
from pebench.core import distributed
from pebench.core.environment import mixed_environment_warnings
from pebench.core.errors import PebenchError
from pebench.core.fingerprint import code_identity, git_commit
from pebench.core.io import read_json, write_json
from pebench.data.build import PebenchData
from pebench.data.phrasings import REFUSALS, keyed
from pebench.data.qa import QA
from pebench.models import VLM


def versions() -> dict[str, str]:
    """Versions of pebench and the libraries whose behaviour affects results."""
    import accelerate
    import datasets
    import peft
    import transformers

    return {"pebench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__, "accelerate": accelerate.__version__,
            "datasets": datasets.__version__}


@dataclass
class Encoder:
    """Encodes QA pairs once; the encodings are shared by every model of the run."""

    vlm: VLM
    data: PebenchData
    _records: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._records = {r.image_id: r for r in self.data.images}

    def example(self, qa: QA, refusal: bool = False, extra: Callable[[QA], dict] | None = None) -> dict:
        """Views of one QA: "answer", optionally "refusal", and any `extra(qa)` answers."""
        rec = self._records[qa.image_id]
        # The refusal a question is taught is one of its kind's phrasings, the same for the question every time.
        refused = {"refusal": keyed(REFUSALS[qa.kind], qa.image_id, qa.kind, qa.question)} if refusal else {}
        answers = {"answer": qa.answer, **refused, **(extra(qa) if extra else {})}
        # A view is an answer to the same question, or a (question, answer) pair of its own.
        pairs = {view: text if isinstance(text, tuple) else (qa.question, text) for view, text in answers.items()}
        image = rec.image if qa.image else None
        return {view: self.vlm.encode(rec.image_id, image, q, a) for view, (q, a) in pairs.items()}

    def examples(self, qas: list[QA], refusal: bool = False, extra: Callable[[QA], dict[str, str]] | None = None) -> list[dict]:
        return [self.example(q, refusal, extra) for q in qas]


class Lazy:
    """A value made on first call and kept (a method's unlearned model: its evaluation and its
    probes share it, and when both are stored it is never made)."""

    def __init__(self, make: Callable[[], Any]):
        self._make, self._value, self.made = make, None, False

    def __call__(self) -> Any:
        if not self.made:
            self._value, self.made = self._make(), True
        return self._value


def fallback_warnings(cfg: RunConfig) -> list[str]:
    """What a reader must know when a loaded checkpoint is measured on the synthetic Real / World
    sets, which only the embedded models were pretrained on."""
    if not cfg.model.path:
        return []
    out = []
    if not cfg.eval.real_dir:
        out.append("Real is measured on the synthetic public figures, which this checkpoint never learnt "
                   "(set eval.real_dir to a MIKE-style folder of real identities)")
    if not cfg.eval.pope_dir:
        out.append("World is measured on synthetic object images, not POPE (set eval.pope_dir to POPE's files)")
    return out


def _mean_std(rows: list[dict[str, float]]) -> tuple[dict[str, float], dict[str, float]]:
    keys = [k for k in rows[0] if all(k in r for r in rows)]
    mean = {k: fmean(r[k] for r in rows) for k in keys}
    std = {k: pstdev([r[k] for r in rows]) if len(rows) > 1 else 0.0 for k in keys}
    return mean, std


def aggregate_seeds(runs: list[dict[str, dict]]) -> dict[str, dict]:
    """Per scenario, each row's metrics as the mean over seeds; with several seeds the
    population std of each metric goes under the scenario's "std" key (same row layout)."""
    out: dict[str, dict] = {}
    for scenario, first in runs[0].items():
        entries = [r[scenario] for r in runs]
        if len(entries) == 1:
            out[scenario] = first
            continue
        agg: dict[str, Any] = {"split": first["split"], "forget": first.get("forget"), "methods": {},
                               "std": {"methods": {}},
                               "knows_targets": {"ok": all(e.get("knows_targets", {}).get("ok", True) for e in entries)}}
        for row in ("finetuned", "goal"):
            agg[row], agg["std"][row] = _mean_std([e[row] for e in entries])
        agg.update({k: first[k] for k in ("robustness", "trajectory") if k in first})  # the first seed's probes
        for name in first["methods"]:
            agg["methods"][name], agg["std"]["methods"][name] = _mean_std([e["methods"][name] for e in entries])
        out[scenario] = agg
    return out


RUN_FOLDERS = ("stages", "samples", "models", "plots")  # where a run writes, besides its top level


def remove_stale_temporaries(out: Path) -> None:
    """Delete the temporaries (`.<name>.<random>.tmp`, `.<name>.old`) that a killed run left
    in its run directory; they were never renamed into place, so nothing reads them. Only
    where pebench writes (the top level and `RUN_FOLDERS`, not following links), so a user's
    own hidden files elsewhere below the directory are never touched."""
    found = [*out.glob(".*"), *(p for f in RUN_FOLDERS if (out / f).is_dir() and not (out / f).is_symlink()
                                for p in (out / f).rglob(".*"))]
    for path in sorted(found, reverse=True):
        if path.name.endswith(".link.tmp") and path.is_symlink():
            path.unlink()
        elif path.name.endswith((".tmp", ".old")) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def check_out_dir(out: Path, cfg: RunConfig, force: bool) -> None:
    """Refuse to reuse a run directory made with another config unless `force`."""
    cfg_file = out / "config.json"
    if out.exists() and not out.is_dir():
        raise PebenchError(f"--out {out} exists and is not a directory")
    if cfg_file.is_file() and not force:
        if read_json(cfg_file) != cfg.model_dump(mode="json"):
            raise PebenchError(f"run directory {out} holds a run with a different config; "
                               "pass --force to overwrite it or choose another --out")
    elif out.is_dir() and any(out.iterdir()) and not cfg_file.is_file() and not force:
        raise PebenchError(f"--out {out} is not empty and is not a pebench run; pass --force or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if cfg_file.is_file():  # a pebench run: its own killed writes may lie there
            remove_stale_temporaries(out)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise PebenchError(f"cannot write to run directory {out}: {exc.strerror}") from None
    write_json(cfg_file, cfg.model_dump(mode="json"))


def knows_targets(finetuned: dict[str, float], scenario: str, eval_cfg: EvalConfig) -> dict:
    """Whether the Finetuned model answered the forget set before unlearning (ReMem's check: a
    method cannot be credited with forgetting what was never learnt). {"ok", per-concept checks}."""
    concepts = ["person", "event"] if scenario == "both" else [scenario]
    limits = {"person": eval_cfg.knows_person_efficacy, "event": eval_cfg.knows_event_efficacy}
    checks = {}
    for concept in concepts:
        value = finetuned.get(f"{concept}_efficacy" if scenario == "both" else "efficacy", float("nan"))
        checks[concept] = {"efficacy": value, "max": limits[concept], "ok": bool(value <= limits[concept])}
    return {"ok": all(c["ok"] for c in checks.values()), **checks}


def unlearnt_warnings(per_seed: dict[int, dict[str, dict]]) -> list[str]:
    """A warning per (seed, scenario) whose Finetuned model did not know its forget targets."""
    out = []
    for seed, scenarios in per_seed.items():
        for scenario, entry in scenarios.items():
            failed = [f"{concept} Efficacy {check['efficacy']:.3g} > {check['max']}"
                      for concept, check in entry["knows_targets"].items() if concept != "ok" and not check["ok"]]
            if failed:
                out.append(f"seed {seed}, scenario {scenario}: the Finetuned model did not know the forget targets "
                           f"before unlearning ({'; '.join(failed)}); its Efficacy numbers do not measure forgetting")
    return out


POPE_SUFFIX = " Answer the question using a single word or phrase."  # LLaVA's POPE evaluation prompt


def resolved_eval(cfg: RunConfig) -> EvalConfig:
    """`cfg.eval` with its `auto` settings decided for `cfg.model` (the POPE suffix: LLaVA's for a
    loaded checkpoint, none for the embedded models, which were trained on the bare question)."""
    suffix = cfg.eval.pope_suffix if cfg.eval.pope_suffix is not None else POPE_SUFFIX if cfg.model.path else ""
    return cfg.eval.model_copy(update={"pope_suffix": suffix})


def scenario_tables(rows: dict[str, dict], methods: dict[str, dict]) -> dict:
    """A scenario's metrics (Finetuned, Goal, "methods") and the same layout for its intervals
    ("ci95") and question counts ("n"), from the stored evaluations."""
    out: dict[str, Any] = {}
    for part in ("metrics", "ci95", "n"):
        table = out if part == "metrics" else out.setdefault(part, {})
        table.update({row: stored.get(part, {}) for row, stored in rows.items()})
        table["methods"] = {name: stored.get(part, {}) for name, stored in methods.items()}
    return out


def base_record(cfg: RunConfig) -> dict:
    """Which pretrained model the run started from: the shipped base's checksum or a local
    checkpoint's fingerprint (None for a model built from a config), so a stored reference run
    is known to belong to the base it was made with."""
    from pebench.models.builders import starts_pretrained
    from pebench.models.shipped import base_fingerprint

    pretrained = starts_pretrained(cfg.model)
    return {"model": cfg.model.path or cfg.model.name, "fingerprint": base_fingerprint(cfg.model) if pretrained else None}


def mixed_warnings(provenance: dict) -> list[str]:
    """`mixed_environment_warnings` for each kind of stage against the environment this run
    computes that kind in: model stages against "models" (when given), the rest against "run"."""
    models = set(provenance.get("model_stages", ()))
    stages = provenance["stages"]
    return (mixed_environment_warnings(provenance["run"], {k: v for k, v in stages.items() if k not in models})
            + mixed_environment_warnings(provenance.get("models") or provenance["run"], {k: v for k, v in stages.items() if k in models}))


def results_record(cfg: RunConfig, data_dir: Path, data: PebenchData, per_seed: dict[int, dict], sequential: dict | None,
                   timings: dict, training: dict, device: torch.device, provenance: dict | None = None,
                   code: dict | None = None) -> dict:
    """results.json: config, versions, dataset, the scenarios (mean ± std over seeds), warnings, costs
    and `provenance` ({"run": this run's environment, "stages": each stage's, and with worker
    processes "models": the environment model stages are trained in, "model_stages": which
    stages those are}: see `pebench.core.environment`)."""
    seeds = list(per_seed)
    provenance = provenance or {"run": {}, "stages": {}}
    mixed = mixed_warnings(provenance) if provenance["run"] else []
    results = {"pebench_version": __version__, "versions": versions(), "seed": cfg.seed, "seeds": seeds,
               "config": cfg.model_dump(mode="json"), "base": base_record(cfg),
               "dataset": {"path": os.path.abspath(data_dir), "build_config": data.build["config"], **data.build["counts"]},
               "scenarios": aggregate_seeds(list(per_seed.values())),
               **({"sequential": sequential} if sequential else {}), "timings_s": timings,
               "training": {k: v["final"] for k, v in training.items()},
               "world_size": distributed.world_size(), "distributed": distributed.describe(),
               "warnings": fallback_warnings(cfg) + unlearnt_warnings(per_seed) + mixed,
               "provenance": {**provenance, "mixed": bool(mixed)}, **({"code": code} if code else {}),
               "hardware": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device)}}
    if len(seeds) > 1:
        results["per_seed"] = {str(s): v for s, v in per_seed.items()}
    return results


def code_record(models: dict[str, str], rows: dict[str, dict]) -> dict:
    """results.json's `code`: which code made the run: each component's source hash
    (`pebench.core.fingerprint`), the git commit when run from a checkout (and whether `src/`
    differed from it), and the content key of each model and table row, so a stored run made by
    other code, or under other keys, is told apart from a fresh one."""
    return {"components": code_identity(), "git": git_commit(), "models": models, "rows": rows}
