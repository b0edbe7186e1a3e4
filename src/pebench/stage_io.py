"""How `pebench run` stores and reuses its stages: a model stage (trained once, stored in the
stage store and linked from the run directory), an evaluation stage (one table row's metrics,
intervals and samples), the evaluation's queries, and stage timings. `Pipeline` mixes this in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from pebench import distributed
from pebench.eval.evaluate import build_queries, evaluate, scenario_cells
from pebench.eval.privacy import member_losses
from pebench.io import atomic_path, link, read_json
from pebench.models import VLM
from pebench.models.builders import load_model_dir
from pebench.models.lifecycle import FullCopies, Sharded
from pebench.splits import Split
from pebench.store import run_name, stage_record


class StageIO:
    """Stored stages of one run (a mixin of `Pipeline`: it sets cfg, out, rep, store, fresh, main)."""

    cfg: Any
    out: Path
    timings: dict[str, float]
    training: dict[str, Any]
    lifecycle: FullCopies | Sharded
    provenance: dict[str, Any]
    stage_provenance: dict[str, dict | None]

    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 3)
        return result

    def _stage_model(self, name: str, key: str, make: Callable[[], VLM], base: VLM | None = None) -> VLM:
        """Load model stage `name` if its key matches (in the run directory, else the stage
        store), else build it with `make` and save it to the store, linked from the run directory.

        With `base`, the model is trained from it and the run's lifecycle stores and returns it
        (under LoRA: only the adapter is stored, and the stage's model is a copy of `base` with
        the adapter merged in); without, it is a whole model (the foundation)."""
        path = self.out / "models" / name
        lifecycle = self.lifecycle if base is not None else FullCopies(self.cfg.model)
        with self.store.lock(key):
            stored = self._stored_model(path, key)
            if stored is not None:
                self.rep.info(f"[dim]reusing {name} (cached)[/dim]")
                self.stage_provenance[name] = stored.get("provenance")
                if self.main:
                    self.store.touch(key, path)
                if "training" in stored:
                    self.training[name] = stored["training"]
                if base is not None:
                    return lifecycle.load(base, path, name)
                loaded = load_model_dir(path, self.cfg.model)
                return self.encoder.vlm.with_model(loaded.model) if hasattr(self, "encoder") else loaded
            self.store.remove_temporaries(key)
            vlm = self._timed(name, make)
            if self.main:
                with atomic_path(self.store.model_dir(key) or path) as tmp:
                    lifecycle.write(vlm, tmp)
                    stage = {"key": key, "name": name, "provenance": self.provenance,
                             **({"training": self.training[name]} if name in self.training else {})}
                    (tmp / "stage.json").write_text(json.dumps(stage), encoding="utf-8")
                if self.store.model_dir(key):
                    link(path, self.store.model_dir(key))
                self.store.touch(key, path)
            self.stage_provenance[name] = self.provenance
        return lifecycle.finish(vlm, name)

    def _stored_model(self, path: Path, key: str) -> dict | None:
        """stage.json of model stage `key` if the run directory holds it (directly or linked),
        else if the store does (then linked from `path`); None when it must be computed. Under a
        launch the main process decides and links, and every process gets its answer (a
        collective: no process can see the link half-made or decide otherwise)."""
        if self.fresh:
            return None
        meta = path / "stage.json"

        def find() -> dict | None:
            stored = read_json(meta) if meta.is_file() else {}
            if stored.get("key") != key and self.store.has_model(key):
                link(path, self.store.model_dir(key))
                stored = read_json(meta)
            return stored if stored.get("key") == key else None

        return distributed.from_main(find)

    def _stage_eval(self, tag: str, row: str, key: str, vlm_fn: Callable[[], VLM], split: Split,
                    goal_member_nll: list[float] | None = None) -> dict:
        """Evaluate (or reuse the stored evaluation of) one table row: {"metrics", "member_nll"}."""
        label = f"{tag}/{row}"

        def compute() -> tuple[dict, str]:
            vlm = vlm_fn()
            queries = self._queries(split)
            with self.rep.task(f"evaluate {label}", len(queries), "q") as task:
                metrics, samples = self._timed(f"eval {label}", lambda: evaluate(
                    vlm, self.data, split, self.eval_cfg, self.judge, split.seed, on_progress=task.advance,
                    queries=queries, goal_member_nll=goal_member_nll, is_goal=row == "goal"))
            _, ci95, counts = scenario_cells(self.data, split, samples, split.seed)
            record = {"key": key, "metrics": metrics, "ci95": ci95, "n": counts, "member_nll": member_losses(samples),
                      **({"training": self.training[label]} if label in self.training else {})}
            return record, "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples)

        stored = self.record(self.out / "stages" / tag / f"{row}.json", key, compute,
                             self.out / "samples" / tag / f"{row}.jsonl")
        if "training" in stored:
            self.training[label] = stored["training"]
        return stored

    def record(self, path: Path, key: str, compute: Callable[[], tuple[dict, str | None]],
               samples_path: Path | None = None) -> dict:
        """`store.stage_record` for this run: the record carries the environment it was computed
        in, and the run notes it (results.json warns when reused stages' environments differ)."""
        stored = stage_record(self.store, path, key, compute, self.fresh, self.main, samples_path, self.provenance)
        self.stage_provenance[run_name(path)] = stored.get("provenance")
        return stored

    def _queries(self, split: Split) -> list:
        key = (split.scenario, split.seed)
        if key not in self._query_cache:
            self._query_cache[key] = build_queries(self.data, split, self.eval_cfg, split.seed)
        return self._query_cache[key]
