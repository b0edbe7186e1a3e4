"""`pebench run`, the PEBench protocol top to bottom (Fig. 3 of the paper):

    data -> foundation -> Finetuned -> per seed and scenario: split, Goal, each method
         -> evaluations and probes -> results.json, tables and report

Each step is a call into a stage object: `FoundationStages` (data, base), `TrainingStages`
(fine-tunes, unlearning; models made and stored through `models.lifecycle`), `ProbeStages`
(robustness probes, sequential requests) and `StageIO` (how a stage is stored in, or reused
from, the shared stage store under its key, `keys.py`). They share one `RunContext`: the
stages return what they make and the recipe records it there (`ctx.dataset`, `ctx.base`,
`ctx.finetuned_key`), so what each stage reads is declared in one place.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from pebench import __version__
from pebench.config import RunConfig
from pebench.core import distributed
from pebench.core.environment import provenance
from pebench.core.errors import PebenchError
from pebench.core.fingerprint import object_source_hash
from pebench.core.io import write_json
from pebench.core.progress import Reporter, log
from pebench.data.build import PebenchData
from pebench.methods import make_method
from pebench.methods.base import METHODS
from pebench.methods.overrides import check_overrides
from pebench.models import VLM
from pebench.models.lifecycle import model_lifecycle
from pebench.recipe import keys
from pebench.recipe.context import RunContext
from pebench.recipe.foundation import FoundationStages
from pebench.recipe.probing import ProbeStages
from pebench.recipe.stage_io import StageIO
from pebench.recipe.support import (  # noqa: F401
    Encoder,
    Lazy,
    check_out_dir,
    fallback_warnings,
    knows_targets,
    remove_stale_temporaries,
    resolved_eval,
    results_record,
    scenario_tables,
)
from pebench.recipe.training import TrainingStages
from pebench.report import write_report
from pebench.splits import Split, make_split
from pebench.store import StageStore, default_root


class Pipeline:
    """Runs the whole benchmark for one RunConfig into `out`."""

    def __init__(self, cfg: RunConfig, out: Path, reporter: Reporter, data_dir: Path | None = None,
                 data: PebenchData | None = None, fresh: bool = False, cache: Path | None | bool = True):
        """`data_dir`: an existing dataset to use instead of building one under `out`
        (`data`: the same, already loaded). `fresh`: recompute every stage, ignoring stored ones.
        `cache`: the stage store's directory (True: `$PEBENCH_CACHE` or the user cache; None or
        False: no store, every stage lives in the run directory only)."""
        root = default_root() if cache is True else cache or None
        self.ctx = RunContext(cfg=cfg, out=Path(out), rep=reporter, store=StageStore(root, locking=distributed.world_size() == 1),
                              eval_cfg=resolved_eval(cfg), lifecycle=model_lifecycle(cfg.model), fresh=fresh,
                              main=distributed.is_main())
        self._data_dir, self._preloaded = (Path(data_dir) if data_dir else None), data
        self.io = StageIO(self.ctx)
        self.training = TrainingStages(self.ctx, self.io)
        self.foundation_stages = FoundationStages(self.ctx, self.io, self.training)
        self.probes = ProbeStages(self.ctx, self.io, self.training)

    @property
    def cfg(self) -> RunConfig:
        return self.ctx.cfg

    @property
    def data(self) -> PebenchData:
        return self.ctx.data

    @property
    def judge(self):
        return self.ctx.dataset.judge

    # ---- the stages before any split, each recorded in the run's context ------------------
    def load_data(self) -> None:
        self.ctx.dataset = self.foundation_stages.load_data(self._data_dir, self._preloaded)

    def foundation(self) -> VLM:
        self.ctx.base = self.foundation_stages.foundation()
        return self.ctx.base.vlm

    def finetuned(self, foundation: VLM) -> VLM:
        vlm, self.ctx.finetuned_key = self.training.finetuned(foundation)
        return vlm

    def unlearn(self, name: str, finetuned: VLM, split: Split, **kwargs) -> VLM:
        """Method `name` unlearnt from `finetuned` on `split` (`TrainingStages.unlearn`)."""
        return self.training.unlearn(name, finetuned, split, **kwargs)

    # ---- the whole run ---------------------------------------------------------------
    def scenario(self, scenario: str, seed: int, foundation: VLM, finetuned: VLM) -> dict:
        """Split, Goal, every method and their evaluations for one scenario and seed."""
        ctx, cfg = self.ctx, self.cfg
        split = make_split(ctx.data, scenario, cfg.split, seed)
        tag = ctx.tag(split)
        ctx.rep.info(f"scenario {tag}: {len(split.forget_persons)} persons and {len(split.forget_events)} events "
                      f"forgotten; D_f_train {len(split.f_train)}, D_f_test {len(split.f_test)}, D_r {len(split.retain)}")
        eval_key = self.io.evaluation_key(split)
        goal_vlm, goal_key = self.training.goal(foundation, split)
        goal_row = keys.goal_row_key(eval_key, goal_key)
        goal = self.io.stage_eval(tag, "goal", goal_row, lambda: goal_vlm, split)
        ref = goal.get("member_nll")
        entry: dict[str, Any] = {"split": split.summary(), "forget": split.forget_names(ctx.data)}
        finetuned_key = keys.finetuned_row_key(eval_key, ctx.finetuned_key, goal_key)
        rows = {"finetuned": self.io.stage_eval(tag, "finetuned", finetuned_key, lambda: finetuned, split, ref)}
        probes = {"finetuned": self.probes.probe_row(tag, "finetuned", finetuned_key, lambda: finetuned, split),
                  "goal": self.probes.probe_row(tag, "goal", goal_row, lambda: goal_vlm, split)}
        methods, probes["methods"], trajectory = {}, {}, keys.trajectory_settings(cfg, split)
        for name in cfg.methods:
            method = METHODS.get(name)
            if method.balance_concepts and scenario != "both":
                continue  # balancing needs both concepts; elsewhere it equals its base method
            key = keys.method_row_key(eval_key, ctx.finetuned_key, goal_key, name, self.training.method_settings(name), seed,
                                      method.defaults, object_source_hash(method), trajectory)
            unlearned = Lazy(lambda n=name: self.training.unlearn(  # made only if a stage needs it
                n, finetuned, split, lambda vlm: self.probes.subset_columns(vlm, split), trajectory[0] if trajectory else 0))
            methods[name] = self.io.stage_eval(tag, name, key, unlearned, split, ref)
            probes["methods"][name] = self.probes.probe_row(tag, name, key, unlearned, split)
            if unlearned.made:
                self.training.release_unlearned(unlearned(), split, name)
        if probes["goal"] is not None:
            entry["robustness"] = probes
            if trajectory:
                entry["trajectory"] = self.probes.trajectories(probes, methods)
        rows["goal"] = goal
        entry["knows_targets"] = knows_targets(rows["finetuned"]["metrics"], scenario, ctx.eval_cfg)
        return entry | scenario_tables(rows, methods)

    def run(self) -> dict:
        ctx, cfg = self.ctx, self.cfg
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // distributed.world_size()))
        check_overrides(cfg.unlearn.overrides)  # fail before any work on a bad override (NPO.bta, lr: -1)
        for name in dict.fromkeys(cfg.methods + cfg.probes.sequential_methods):
            make_method(name, self.training.method_settings(name)[1])
            if cfg.model.lora.enabled and not METHODS.get(name).supports_lora:
                raise PebenchError(f"method {name} edits weights in a way a LoRA adapter cannot hold; run it without --lora")
            if distributed.strategy() == "fsdp" and not METHODS.get(name).supports_sharding:
                raise PebenchError(f"method {name} needs whole gradients or activations; run it in one process or under DDP, not FSDP")
        started = time.perf_counter()
        ctx.rep.info(f"pebench {__version__}: run directory {ctx.out}")
        for warning in fallback_warnings(cfg):
            log.warning(warning)
            ctx.rep.info(f"[yellow]warning:[/yellow] {warning}")
        ctx.provenance = provenance(distributed.device(cfg.model.device), cfg.model.dtype)
        self.load_data()
        foundation = self.foundation()
        finetuned = self.finetuned(foundation)
        seeds = [cfg.seed + i for i in range(cfg.seeds)]
        per_seed = {seed: {sc: self.scenario(sc, seed, foundation, finetuned) for sc in cfg.scenarios} for seed in seeds}
        sequential = self.probes.sequential(foundation, finetuned)
        results = results_record(cfg, ctx.dataset.directory, ctx.data, per_seed, sequential, ctx.timings, ctx.training,
                                 finetuned.device, {"run": ctx.provenance, "stages": ctx.stage_provenance})
        if not ctx.main:
            distributed.barrier()  # wait until the main process has written results and report
            return results
        write_json(ctx.out / "training_logs.json", ctx.training)
        write_json(ctx.out / "results.json", results)
        with ctx.rep.task("report", 1, "report") as task:
            ctx.timed("report", lambda: write_report(ctx.out))
            task.advance()
        results["wall_s"] = round(time.perf_counter() - started, 1)
        write_json(ctx.out / "results.json", results)  # with the report's time
        distributed.barrier()
        return results


