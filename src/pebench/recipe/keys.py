"""Every stage's content key, in one place: what each stage reads, and so what its key holds.

A key is `content_key(...)` (a hash of JSON parts plus the pebench version) of what the stage
reads, config sections first:

* dataset: `data`; the data code and its package files (`pebench_pools.json`), numpy / Pillow;
* data as used: the dataset's build record, its files when given with `--data`, the data code;
* foundation: `model`, `seed` (and `foundation` when trained here); the data, the base's
  checksum or `--model` files, the training code, the compute environment;
* Finetuned: `finetune`; the foundation. Goal: `finetune` (and `goal.budget`: its steps, or scaled to D_r); the foundation, the split's D_r;
* evaluation: `eval` (resolved), `split`; the data, the split (scenario, seed, targets), the
  evaluation code (plug-in metrics too), the files of `eval.pope_dir` / `eval.real_dir`;
* a row: the evaluation and the row's model keys; a method's row also its training settings
  and hyperparameters, defaults, source file and trajectory settings;
* probes: `probes` (but which rows are probed and the sequential stage); the row;
* sequential: `seed`; the `both` split's evaluation and Goal, Finetuned, the method's inputs.

The compute environment is `pebench.core.environment.compute_environment`; it enters the foundation's
key, from which every model, evaluation and probe key chains. `tests/test_stage_keys.py` changes
each config field and each input in turn and checks that exactly the stages reading it change key.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, NamedTuple

from pebench import __version__
from pebench.config import EvalConfig, RunConfig, TrainConfig
from pebench.core.environment import render_environment
from pebench.core.fingerprint import component_hash
from pebench.splits import Split


class RowKeys(NamedTuple):
    """One split's Goal model key and its rows' keys (`Pipeline.row_keys`)."""

    goal: str
    goal_row: str
    finetuned_row: str
    methods: dict[str, str]  # method -> row key, in the config's order


def content_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (plus the pebench version)."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


PROBE_SETTINGS_EXCLUDE = {"scenarios", "sequential", "sequential_methods"}  # which rows are probed, and the separate sequential stage


def dataset_key(cfg: RunConfig) -> str:
    """The dataset built from `cfg.data` by the current data code."""
    return content_key("dataset", cfg.data.model_dump(), component_hash("data"), render_environment())


def data_key(build: Mapping[str, Any], files: str | None) -> str:
    """The dataset as the run uses it: its build record, its files' fingerprint when given with
    `--data` (it may have been edited in place), and the current data code, which re-reads
    questions, answers, refusals and captions from code whoever built the images."""
    return content_key(dict(build), files, component_hash("data"))


def foundation_key(cfg: RunConfig, data: str, base: str | None, environment: Mapping[str, Any]) -> str:
    """The model every fine-tune starts from: a pretrained base (`base`: its fingerprint) or
    a builder's model trained here (`base` None: `cfg.foundation` is read)."""
    trained = None if base is not None else cfg.foundation.model_dump()
    return content_key("base" if base is not None else "foundation", data, cfg.model.model_dump(), base, trained,
                       cfg.seed, component_hash("training"), dict(environment))


def finetuned_key(cfg: RunConfig, foundation: str) -> str:
    return content_key("finetuned", foundation, cfg.finetune.model_dump())


def goal_key(settings: TrainConfig, foundation: str, split: Split) -> str:
    """The Goal model of `split`, trained with `settings` (`TrainingStages.goal_settings`)."""
    return content_key("goal", foundation, settings.model_dump(), sorted(split.retain))


def evaluation_key(cfg: RunConfig, eval_cfg: EvalConfig, split: Split, data: str, code: str,
                   external: list[str]) -> str:
    """What every row of one split is evaluated with (`external`: fingerprints of `eval.pope_dir`
    and `eval.real_dir`)."""
    return content_key(eval_cfg.model_dump(), cfg.split.model_dump(), split.summary(), data, code, external)


def goal_row_key(evaluation: str, goal: str) -> str:
    return content_key(evaluation, goal)


def finetuned_row_key(evaluation: str, finetuned: str, goal: str) -> str:
    return content_key(evaluation, finetuned, goal)


def method_row_key(evaluation: str, finetuned: str, goal: str, method: str, settings: Any, seed: int,
                   defaults: Mapping[str, Any], source: str, trajectory: Any) -> str:
    """One method's unlearnt model and its evaluation (`settings`: training settings and
    overrides after the config; `source`: the hash of the file defining the method)."""
    return content_key(evaluation, finetuned, goal, method, settings, seed, dict(defaults), source, trajectory)


def probed(cfg: RunConfig, split: Split) -> bool:
    """Whether the rows of `split` are probed (its scenario listed, some probe on)."""
    pc = cfg.probes
    return split.scenario in pc.scenarios and bool(pc.quant_bits or pc.relearn_steps or pc.every or pc.paraphrase
                                                   or text_only_probed(cfg, split))


def text_only_probed(cfg: RunConfig, split: Split) -> bool:
    """Whether the text-only probe runs: it asks about forget persons, so only where there are some."""
    return cfg.probes.text_only and bool(split.forget_persons)


def trajectory_settings(cfg: RunConfig, split: Split) -> tuple[int, int] | None:
    """What evaluation during unlearning adds to a method's key (it runs inside unlearning)."""
    return (cfg.probes.every, cfg.probes.subset) if probed(cfg, split) and cfg.probes.every else None


def probe_key(cfg: RunConfig, row: str) -> str:
    return content_key(row, cfg.probes.model_dump(exclude=PROBE_SETTINGS_EXCLUDE), component_hash("probes"))


def sequential_key(cfg: RunConfig, evaluation: str, finetuned: str, goal: str, method: str, settings: Any,
                   defaults: Mapping[str, Any], source: str) -> str:
    """One method given the sequential requests of the `both` split (`evaluation` and `goal`:
    that split's evaluation and Goal keys, which hold its targets)."""
    return content_key("sequential", evaluation, finetuned, goal, cfg.seed, method, settings, dict(defaults), source,
                       component_hash("probes"))
