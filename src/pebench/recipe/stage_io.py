"""How `pebench run` stores and reuses its stages: a model stage (trained once, stored in the
stage store and linked from the run directory), an evaluation stage (one table row's metrics,
intervals and samples) and the evaluation's queries, for the stages of one run (`RunContext`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from pebench.core import distributed
from pebench.core.io import atomic_path, dir_fingerprint, link, read_json
from pebench.eval.evaluate import build_queries, evaluate, scenario_cells
from pebench.eval.metrics import evaluation_code
from pebench.eval.privacy import member_losses
from pebench.models import VLM
from pebench.models.builders import load_model_dir
from pebench.models.lifecycle import FullCopies
from pebench.recipe import keys
from pebench.recipe.context import RunContext
from pebench.splits import Split
from pebench.store import run_name, stage_record


class StageIO:
    """Stored stages of one run: each is reused when its key matches, else computed and stored."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._query_cache: dict[tuple[str, int], list] = {}

    def stage_model(self, name: str, key: str, make: Callable[[], VLM], base: VLM | None = None) -> VLM:
        """Load model stage `name` if its key matches (in the run directory, else the stage
        store), else build it with `make` and save it to the store, linked from the run directory.

        With `base`, the model is trained from it and the run's lifecycle stores and returns it
        (under LoRA: only the adapter is stored, and the stage's model is a copy of `base` with
        the adapter merged in); without, it is a whole model (the foundation)."""
        path = self.ctx.out / "models" / name
        lifecycle = self.ctx.lifecycle if base is not None else FullCopies(self.ctx.cfg.model)
        environment = self.ctx.model_provenance or self.ctx.provenance
        self.ctx.model_stages.add(name)
        with self.ctx.store.lock(key):
            stored = self._stored_model(path, key)
            if stored is not None:
                self.ctx.rep.info(f"[dim]reusing {name} (cached)[/dim]")
                self.ctx.stage_provenance[name] = stored.get("provenance")
                if self.ctx.main:
                    self.ctx.store.touch(key, path)
                if "training" in stored:
                    self.ctx.training[name] = stored["training"]
                if base is not None:
                    return lifecycle.load(base, path, name)
                loaded = load_model_dir(path, self.ctx.cfg.model)
                return self.ctx.encoder.vlm.with_model(loaded.model) if self.ctx.base else loaded
            self.ctx.store.remove_temporaries(key)
            vlm = self.ctx.timed(name, make)
            if self.ctx.main:
                with atomic_path(self.ctx.store.model_dir(key) or path) as tmp:
                    lifecycle.write(vlm, tmp)
                    stage = {"key": key, "name": name, "provenance": environment,
                             **({"training": self.ctx.training[name]} if name in self.ctx.training else {})}
                    (tmp / "stage.json").write_text(json.dumps(stage), encoding="utf-8")
                if self.ctx.store.model_dir(key):
                    link(path, self.ctx.store.model_dir(key))
                self.ctx.store.touch(key, path)
            self.ctx.stage_provenance[name] = environment
        return lifecycle.finish(vlm, name)

    def _stored_model(self, path: Path, key: str) -> dict | None:
        """stage.json of model stage `key` if the run directory holds it (directly or linked),
        else if the store does (then linked from `path`); None when it must be computed. Under a
        launch the main process decides and links, and every process gets its answer (a
        collective: no process can see the link half-made or decide otherwise)."""
        if self.ctx.fresh:
            return None
        meta = path / "stage.json"

        def find() -> dict | None:
            stored = read_json(meta) if meta.is_file() else {}
            if stored.get("key") != key and self.ctx.store.has_model(key):
                link(path, self.ctx.store.model_dir(key))
                stored = read_json(meta)
            return stored if stored.get("key") == key else None

        return distributed.from_main(find)

    def stage_eval(self, tag: str, row: str, key: str, vlm_fn: Callable[[], VLM], split: Split,
                    goal_member_nll: list[float] | None = None) -> dict:
        """Evaluate (or reuse the stored evaluation of) one table row: {"metrics", "member_nll"}."""
        label = f"{tag}/{row}"

        def compute() -> tuple[dict, str]:
            vlm = vlm_fn()
            queries = self.queries(split)
            with self.ctx.rep.task(f"evaluate {label}", len(queries), "q") as task:
                metrics, samples = self.ctx.timed(f"eval {label}", lambda: evaluate(
                    vlm, self.ctx.data, split, self.ctx.eval_cfg, self.ctx.dataset.judge, split.seed, on_progress=task.advance,
                    queries=queries, goal_member_nll=goal_member_nll, is_goal=row == "goal"))
            _, ci95, counts = scenario_cells(self.ctx.data, split, samples, split.seed)
            record = {"key": key, "metrics": metrics, "ci95": ci95, "n": counts, "member_nll": member_losses(samples),
                      **({"training": self.ctx.training[label]} if label in self.ctx.training else {})}
            return record, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)

        stored = self.record(self.ctx.out / "stages" / tag / f"{row}.json", key, compute,
                             self.ctx.out / "samples" / tag / f"{row}.jsonl")
        if "training" in stored:
            self.ctx.training[label] = stored["training"]
        return stored

    def record(self, path: Path, key: str, compute: Callable[[], tuple[dict, str | None]],
               samples_path: Path | None = None) -> dict:
        """`store.stage_record` for this run: the record carries the environment it was computed
        in, and the run notes it (results.json warns when reused stages' environments differ)."""
        stored = stage_record(self.ctx.store, path, key, compute, self.ctx.fresh, self.ctx.main, samples_path, self.ctx.provenance)
        self.ctx.stage_provenance[run_name(path)] = stored.get("provenance")
        return stored

    def evaluation_key(self, split: Split) -> str:
        """The key every row of `split` is evaluated under (`keys.evaluation_key`)."""
        ctx = self.ctx
        external = [dir_fingerprint(d) for d in (ctx.eval_cfg.pope_dir, ctx.eval_cfg.real_dir) if d]
        return keys.evaluation_key(ctx.cfg, ctx.eval_cfg, split, ctx.dataset.key, evaluation_code(), external)

    def queries(self, split: Split) -> list:
        key = (split.scenario, split.seed)
        if key not in self._query_cache:
            self._query_cache[key] = build_queries(self.ctx.data, split, self.ctx.eval_cfg, split.seed)
        return self._query_cache[key]
