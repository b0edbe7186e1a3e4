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

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, ContextManager

import torch

from pebench import __version__
from pebench.config import RunConfig
from pebench.core import distributed
from pebench.core.environment import provenance
from pebench.core.fingerprint import object_source_hash
from pebench.core.io import write_json
from pebench.core.progress import Reporter, log
from pebench.data.build import PebenchData
from pebench.methods import user_method_files
from pebench.methods.base import METHODS
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
    code_record,
    fallback_warnings,
    knows_targets,
    remove_stale_temporaries,
    resolved_eval,
    results_record,
    scenario_tables,
)
from pebench.recipe.keys import RowKeys
from pebench.recipe.training import TrainingStages, check_methods
from pebench.recipe.workers import side_by_side, worker_count, worker_threads
from pebench.report import write_report
from pebench.splits import Split, make_split
from pebench.store import StageStore, default_root


def _every_stage(key: str) -> ContextManager[bool]:
    """One process computes every stage: each is its own."""
    return contextlib.nullcontext(True)


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
        self._row_keys: dict[tuple[str, int], RowKeys] = {}
        self._announced: set[tuple[str, int]] = set()

    @property
    def cfg(self) -> RunConfig:
        return self.ctx.cfg

    @property
    def data(self) -> PebenchData:
        return self.ctx.data

    @property
    def judge(self):
        return self.ctx.dataset.judge

    def record_environment(self) -> None:
        """Note the environment the run's stages are computed in (stored with each stage)."""
        self.ctx.provenance = provenance(distributed.device(self.cfg.model.device), self.cfg.model.dtype)

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
    def splits(self) -> list[Split]:
        """Every (seed, scenario) split of the run, in the recipe's order."""
        seeds = [self.cfg.seed + i for i in range(self.cfg.seeds)]
        return [make_split(self.ctx.data, sc, self.cfg.split, seed) for seed in seeds for sc in self.cfg.scenarios]

    def row_keys(self, split: Split) -> RowKeys:
        """The keys of `split`'s Goal model and of each of its table rows (`keys.py`), computed
        once per split (`pending` and `scenario` both ask)."""
        if (split.scenario, split.seed) not in self._row_keys:
            self._row_keys[split.scenario, split.seed] = self._compute_row_keys(split)
        return self._row_keys[split.scenario, split.seed]

    def _compute_row_keys(self, split: Split) -> RowKeys:
        ctx, cfg = self.ctx, self.cfg
        evaluation = self.io.evaluation_key(split)
        finetuned = keys.finetuned_key(cfg, ctx.base.key)
        goal = self.training.goal_key(split)
        trajectory = keys.trajectory_settings(cfg, split)
        methods = {}
        for name in cfg.methods:
            method = METHODS.get(name)
            if method.balance_concepts and split.scenario != "both":
                continue  # balancing needs both concepts; elsewhere it equals its base method
            methods[name] = keys.method_row_key(evaluation, finetuned, goal, name, self.training.method_settings(name),
                                                split.seed, method.defaults, object_source_hash(method), trajectory)
        return RowKeys(goal, keys.goal_row_key(evaluation, goal), keys.finetuned_row_key(evaluation, finetuned, goal), methods)

    def scenario(self, scenario: str, seed: int, foundation: VLM, finetuned: VLM,
                 claim: Callable[[str], ContextManager[bool]] | None = None) -> dict:
        """Split, Goal, every method and their evaluations for one scenario and seed. With
        `claim` (a worker's share, `recipe.workers`): only the rows this process claims are
        computed (the Goal and its evaluation, which every row needs, are waited for) and
        nothing is returned."""
        ctx, cfg = self.ctx, self.cfg
        split = make_split(ctx.data, scenario, cfg.split, seed)
        tag, row_keys, ours = ctx.tag(split), self.row_keys(split), claim or _every_stage
        if (split.scenario, split.seed) not in self._announced:  # once: with workers, this split is walked twice
            self._announced.add((split.scenario, split.seed))
            ctx.rep.info(f"scenario {tag}: {len(split.forget_persons)} persons and {len(split.forget_events)} events "
                          f"forgotten; D_f_train {len(split.f_train)}, D_f_test {len(split.f_test)}, D_r {len(split.retain)}")
        goal_vlm, _ = self.training.goal(foundation, split)
        goal = self.io.stage_eval(tag, "goal", row_keys.goal_row, lambda: goal_vlm, split)
        ref = goal.get("member_nll")
        entry: dict[str, Any] = {"split": split.summary(), "forget": split.forget_names(ctx.data)}
        rows, probes, methods, trajectory = {}, {}, {}, keys.trajectory_settings(cfg, split)
        with ours(row_keys.finetuned_row) as mine:
            if mine:
                rows["finetuned"] = self.io.stage_eval(tag, "finetuned", row_keys.finetuned_row, lambda: finetuned, split, ref)
                probes["finetuned"] = self.probes.probe_row(tag, "finetuned", row_keys.finetuned_row, lambda: finetuned, split)
        with ours(row_keys.goal_row) as mine:
            if mine:
                probes["goal"] = self.probes.probe_row(tag, "goal", row_keys.goal_row, lambda: goal_vlm, split)
        probes["methods"] = {}
        for name, key in row_keys.methods.items():
            with ours(key) as mine:
                if not mine:
                    continue
                unlearned = Lazy(lambda n=name: self.training.unlearn(  # made only if a stage needs it
                    n, finetuned, split, lambda vlm: self.probes.subset_columns(vlm, split), trajectory[0] if trajectory else 0))
                methods[name] = self.io.stage_eval(tag, name, key, unlearned, split, ref)
                probes["methods"][name] = self.probes.probe_row(tag, name, key, unlearned, split)
                if unlearned.made:
                    self.training.release_unlearned(unlearned(), split, name)
        if claim is not None:
            return {}
        if probes["goal"] is not None:
            entry["robustness"] = probes
            if trajectory:
                entry["trajectory"] = self.probes.trajectories(probes, methods)
        rows["goal"] = goal
        entry["knows_targets"] = knows_targets(rows["finetuned"]["metrics"], scenario, ctx.eval_cfg)
        return entry | scenario_tables(rows, methods)

    def pending(self) -> int:
        """How many of the run's evaluation and probe stages are not stored yet."""
        stages = []
        for split in self.splits():
            row_keys = self.row_keys(split)
            rows = [row_keys.goal_row, row_keys.finetuned_row, *row_keys.methods.values()]
            stages += rows + ([keys.probe_key(self.cfg, row) for row in rows] if self.probes.probed(split) else [])
        return sum(self.ctx.store.read(key) is None for key in stages)

    def share(self, finetuned: VLM) -> None:
        """A worker's share of the run's rows (`recipe.workers`): every scenario walked, the rows
        no other worker has claimed computed."""
        for split in self.splits():
            self.scenario(split.scenario, split.seed, self.ctx.base.vlm, finetuned, claim=self.ctx.store.claim)

    def side_by_side(self, workers: int, foundation: VLM, finetuned: VLM) -> None:
        """The Goals trained here with every core (fine-tuning runs twice as fast on two threads
        as on one, and two one-thread processes gain nothing on it: measured), then the rows
        computed by `workers` processes of cores/workers threads sharing the stage store
        (`benchmarks/workers.py`), this one among them; their seconds join the run's timings."""
        ctx = self.ctx
        for split in self.splits():
            self.training.goal(foundation, split)
        ctx.model_provenance = ctx.provenance
        torch.set_num_threads(worker_threads(self.cfg, workers))
        self.record_environment()
        if not self.pending():
            return
        ctx.rep.info(f"{workers} worker processes of {torch.get_num_threads()} thread(s) compute the run's rows")
        args = (self.cfg.model_dump(mode="json"), str(ctx.out), self._data_dir and str(self._data_dir), str(ctx.store.root),
                user_method_files(self.cfg.methods + self.cfg.probes.sequential_methods), torch.get_num_threads())
        with side_by_side(workers - 1, "pebench.recipe.worker:share", args) as others:
            self.share(finetuned)
        for timings in others:
            for name, seconds in timings.items():
                ctx.add_time(name, seconds)

    def provenance_record(self) -> dict:
        """results.json's `provenance`: the run's environment and each stage's (with worker
        processes also the one the model stages were trained in, and which those are)."""
        ctx = self.ctx
        models = {"models": ctx.model_provenance, "model_stages": sorted(ctx.model_stages)} if ctx.model_provenance else {}
        return {"run": ctx.provenance, "stages": ctx.stage_provenance, **models}

    def run(self) -> dict:
        ctx, cfg = self.ctx, self.cfg
        workers, why_one = worker_count(cfg, store=ctx.store.root is not None, fresh=ctx.fresh,
                                        launched=distributed.world_size() > 1, device=distributed.device(cfg.model.device).type)
        torch.set_num_threads(worker_threads(cfg, distributed.world_size()))
        check_methods(cfg)  # the CLI checked already, before writing anything; the API checks here
        started = time.perf_counter()
        ctx.rep.info(f"pebench {__version__}: run directory {ctx.out}")
        for warning in fallback_warnings(cfg) + ([why_one] if why_one else []):
            log.warning(warning)
            ctx.rep.info(f"[yellow]warning:[/yellow] {warning}")
        self.record_environment()
        self.load_data()
        foundation = self.foundation()
        finetuned = self.finetuned(foundation)
        if workers > 1:
            self.side_by_side(workers, foundation, finetuned)  # afterwards the steps below find every stage stored
        per_seed: dict[int, dict] = {}
        for split in self.splits():
            per_seed.setdefault(split.seed, {})[split.scenario] = self.scenario(split.scenario, split.seed, foundation, finetuned)
        sequential = self.probes.sequential(foundation, finetuned)
        code = code_record({"foundation": ctx.base.key, "finetuned": keys.finetuned_key(cfg, ctx.base.key)},
                           {ctx.tag(split): self.row_keys(split)._asdict() for split in self.splits()})
        results = results_record(cfg, ctx.dataset.directory, ctx.data, per_seed, sequential, ctx.timings, ctx.training,
                                 finetuned.device, self.provenance_record(), code)
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



