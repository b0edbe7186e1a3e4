"""`pebench run`, the PEBench protocol top to bottom (Fig. 3 of the paper):

    data -> foundation -> Finetuned -> per seed and scenario: split, Goal, each method
         -> evaluations and probes -> results.json, tables and report

Each step is a call into a stage mixin: `FoundationStages` (data, base), `TrainingStages`
(fine-tunes, unlearning; models made and stored through `models.lifecycle`), `ProbeStages` (robustness probes, sequential
requests) and `StageIO` (how a stage is stored in, or reused from, the shared stage store
under its content key: config values, code version, input keys and the code it runs).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from pebench import __version__, distributed, stage_keys
from pebench.config import RunConfig
from pebench.data.build import PebenchData
from pebench.eval.metrics import evaluation_code
from pebench.fingerprint import object_source_hash
from pebench.foundation_stages import FoundationStages
from pebench.io import dir_fingerprint, write_json
from pebench.methods import make_method
from pebench.methods.base import METHODS
from pebench.methods.overrides import check_overrides
from pebench.models import VLM
from pebench.models.lifecycle import model_lifecycle
from pebench.probe_stages import ProbeStages
from pebench.progress import Reporter, log
from pebench.report import write_report
from pebench.run_support import (Encoder, Lazy, check_out_dir, content_key, fallback_warnings, knows_targets,  # noqa: F401
                                 remove_stale_temporaries, resolved_eval, results_record, scenario_tables)
from pebench.splits import Split, make_split
from pebench.stage_io import StageIO
from pebench.store import StageStore, default_root
from pebench.training_stages import TrainingStages


class Pipeline(FoundationStages, TrainingStages, ProbeStages, StageIO):
    """Runs the whole benchmark for one RunConfig into `out`."""

    def __init__(self, cfg: RunConfig, out: Path, reporter: Reporter, data_dir: Path | None = None,
                 data: PebenchData | None = None, fresh: bool = False, cache: Path | None | bool = True):
        """`data_dir`: an existing dataset to use instead of building one under `out`
        (`data`: the same, already loaded). `fresh`: recompute every stage, ignoring stored ones.
        `cache`: the stage store's directory (True: `$PEBENCH_CACHE` or the user cache; None or
        False: no store, every stage lives in the run directory only)."""
        self.cfg, self.out, self.rep, self.fresh = cfg, Path(out), reporter, fresh
        root = default_root() if cache is True else cache or None
        self.store = StageStore(root, locking=distributed.world_size() == 1)
        self.eval_cfg = resolved_eval(cfg)
        self.data_dir = Path(data_dir) if data_dir else None
        self._external_data = data_dir is not None
        self._preloaded = data
        self.timings: dict[str, float] = {}
        self._retain_cache: dict[tuple[str, ...], list[dict]] = {}
        self._query_cache: dict[tuple[str, int], list] = {}
        self.training: dict[str, Any] = {}
        self.provenance: dict[str, Any] = {}  # this run's environment (set with the foundation)
        self.stage_provenance: dict[str, dict | None] = {}  # each stage's, as computed
        self.lifecycle = model_lifecycle(cfg.model)  # full copies or LoRA adapters: the stages never branch on it
        self.main = distributed.is_main()  # only the main process writes under a multi-process launch

    # ---- the whole run ---------------------------------------------------------------
    def _tag(self, split: Split) -> str:
        """Where a split's stages live: the scenario name, under seed-<s>/ for extra seeds."""
        return split.scenario if split.seed == self.cfg.seed else f"seed-{split.seed}/{split.scenario}"

    def evaluation_key(self, split: Split) -> str:
        """The key every row of `split` is evaluated under (`stage_keys.evaluation_key`)."""
        external = [dir_fingerprint(d) for d in (self.eval_cfg.pope_dir, self.eval_cfg.real_dir) if d]
        return stage_keys.evaluation_key(self.cfg, self.eval_cfg, split, self.data_key, evaluation_code(), external)

    def scenario(self, scenario: str, seed: int, foundation: VLM, finetuned: VLM) -> dict:
        """Split, Goal, every method and their evaluations for one scenario and seed."""
        cfg = self.cfg
        split = make_split(self.data, scenario, cfg.split, seed)
        tag = self._tag(split)
        self.rep.info(f"scenario {tag}: {len(split.forget_persons)} persons and {len(split.forget_events)} events "
                      f"forgotten; D_f_train {len(split.f_train)}, D_f_test {len(split.f_test)}, D_r {len(split.retain)}")
        eval_key = self.evaluation_key(split)
        goal_vlm, goal_key = self.goal(foundation, split)
        goal_row = stage_keys.goal_row_key(eval_key, goal_key)
        goal = self._stage_eval(tag, "goal", goal_row, lambda: goal_vlm, split)
        ref = goal.get("member_nll")
        entry: dict[str, Any] = {"split": split.summary(), "forget": split.forget_names(self.data)}
        finetuned_key = stage_keys.finetuned_row_key(eval_key, self.finetuned_key, goal_key)
        rows = {"finetuned": self._stage_eval(tag, "finetuned", finetuned_key, lambda: finetuned, split, ref)}
        probes = {"finetuned": self.probe_row(tag, "finetuned", finetuned_key, lambda: finetuned, split),
                  "goal": self.probe_row(tag, "goal", goal_row, lambda: goal_vlm, split)}
        methods, probes["methods"], trajectory = {}, {}, self.trajectory_settings(split)
        for name in cfg.methods:
            method = METHODS.get(name)
            if method.balance_concepts and scenario != "both":
                continue  # balancing needs both concepts; elsewhere it equals its base method
            key = stage_keys.method_row_key(eval_key, self.finetuned_key, goal_key, name, self.method_settings(name), seed,
                                            method.defaults, object_source_hash(method), trajectory)
            unlearned = Lazy(lambda n=name: self.unlearn(  # made only if a stage needs it
                n, finetuned, split, lambda vlm: self.subset_columns(vlm, split), trajectory[0] if trajectory else 0))
            methods[name] = self._stage_eval(tag, name, key, unlearned, split, ref)
            probes["methods"][name] = self.probe_row(tag, name, key, unlearned, split)
            if unlearned.made:
                self._release_unlearned(unlearned(), split, name)
        if probes["goal"] is not None:
            entry["robustness"] = probes
            if trajectory:
                entry["trajectory"] = self.trajectories(probes, methods)
        rows["goal"] = goal
        entry["knows_targets"] = knows_targets(rows["finetuned"]["metrics"], scenario, self.eval_cfg)
        return entry | scenario_tables(rows, methods)

    def run(self) -> dict:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // distributed.world_size()))
        check_overrides(cfg.unlearn.overrides)  # fail before any work on a bad override (NPO.bta, lr: -1)
        for name in dict.fromkeys(cfg.methods + cfg.probes.sequential_methods):
            make_method(name, self.method_settings(name)[1])
        started = time.perf_counter()
        self.rep.info(f"pebench {__version__}: run directory {self.out}")
        for warning in fallback_warnings(cfg):
            log.warning(warning)
            self.rep.info(f"[yellow]warning:[/yellow] {warning}")
        self.load_data()
        foundation = self.foundation()
        finetuned = self.finetuned(foundation)
        seeds = [cfg.seed + i for i in range(cfg.seeds)]
        per_seed = {seed: {sc: self.scenario(sc, seed, foundation, finetuned) for sc in cfg.scenarios} for seed in seeds}
        sequential = self.sequential(foundation, finetuned)
        results = results_record(cfg, self.data_dir, self.data, per_seed, sequential, self.timings, self.training,
                                 finetuned.device, {"run": self.provenance, "stages": self.stage_provenance})
        if not self.main:
            distributed.barrier()  # wait until the main process has written results and report
            return results
        write_json(self.out / "training_logs.json", self.training)
        write_json(self.out / "results.json", results)
        with self.rep.task("report", 1, "report") as task:
            self._timed("report", lambda: write_report(self.out))
            task.advance()
        results["wall_s"] = round(time.perf_counter() - started, 1)
        write_json(self.out / "results.json", results)  # with the report's time
        distributed.barrier()
        return results


