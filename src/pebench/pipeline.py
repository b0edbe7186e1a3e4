"""`pebench run`: data -> foundation -> Finetuned -> per scenario (split, Goal, methods) ->
evaluation -> results.json and tables.

Every stage's output is stored under the run directory with a content key (a hash of the
config values, code version and input keys it depends on); a rerun in the same directory
reuses every stage whose key matches and redoes the rest.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch

from pebench import __version__, distributed
from pebench.config import RunConfig
from pebench.run_support import (Encoder, Lazy, aggregate_seeds, check_out_dir, content_key, fallback_warnings,  # noqa: F401
                                 knows_targets, remove_stale_temporaries, resolved_eval, unlearnt_warnings, versions)
from pebench.data.build import PebenchData, build_dataset, load_dataset_dir, planned_images
from pebench.data.qa import foundation_qas, text_corpus
from pebench.eval.evaluate import build_queries, evaluate, scenario_cells
from pebench.eval.privacy import member_losses
from pebench.eval.judges import make_judge
from pebench.fingerprint import component_hash, object_source_hash
from pebench.io import atomic_path, dir_fingerprint, read_json, write_json, write_text
from pebench.methods.finetune import Finetune
from pebench.methods import make_method
from pebench.methods.base import METHODS
from pebench.models import VLM, build_model
from pebench.models.builders import base_fingerprint, load_model_dir, starts_pretrained
from pebench.models.lora import load_adapter, merged_copy, remove_adapter, write_adapter
from pebench.pretrain.tasks import replay_samples
from pebench.progress import Reporter, log, progress_callback
from pebench.report import write_report
from pebench.splits import Split, make_split
from pebench.train import Stream
from pebench.probe_stages import ProbeStages
from pebench.training_stages import TrainingStages


REPLAY_POOL = 2048  # pretraining examples replayed by fine-tunes of the shipped base


class Pipeline(TrainingStages, ProbeStages):
    """Runs the whole benchmark for one RunConfig into `out`."""

    def __init__(self, cfg: RunConfig, out: Path, reporter: Reporter, data_dir: Path | None = None,
                 data: PebenchData | None = None, fresh: bool = False):
        """`data_dir`: an existing dataset to use instead of building one under `out`
        (`data`: the same, already loaded). `fresh`: recompute every stage, ignoring stored ones."""
        self.cfg, self.out, self.rep, self.fresh = cfg, Path(out), reporter, fresh
        self.eval_cfg = resolved_eval(cfg)
        self.data_dir = Path(data_dir) if data_dir else None
        self._external_data = data_dir is not None
        self._preloaded = data
        self.timings: dict[str, float] = {}
        self._retain_cache: dict[tuple[str, ...], list[dict]] = {}
        self._query_cache: dict[tuple[str, int], list] = {}
        self.training: dict[str, Any] = {}
        self.main = distributed.is_main()  # only the main process writes under a multi-process launch

    # ---- helpers ---------------------------------------------------------------------
    def _timed(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = fn()
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 3)
        return result

    def _stage_model(self, name: str, key: str, make: Callable[[], VLM], base: VLM | None = None) -> VLM:
        """Load model stage `name` if its key matches, else build it with `make` and save it.

        With `base` and LoRA on, `make` returns `base` with a trained adapter: only the adapter
        is stored, and the stage's model is a copy of `base` with the adapter merged in
        (`base` itself gets its weights back)."""
        path = self.out / "models" / name
        meta = path / "stage.json"
        adapter = base is not None and self.lora
        stored = read_json(meta) if meta.is_file() and not self.fresh else {}
        if stored.get("key") == key:
            self.rep.info(f"[dim]reusing {name} (cached)[/dim]")
            if "training" in stored:
                self.training[name] = stored["training"]
            if adapter:
                return load_adapter(base, path)
            loaded = load_model_dir(path, self.cfg.model)
            return self.encoder.vlm.with_model(loaded.model) if hasattr(self, "encoder") else loaded
        vlm = self._timed(name, make)
        if self.main:
            with atomic_path(path) as tmp:
                write_adapter(vlm, tmp) if adapter else vlm.save(tmp)
                stage = {"key": key, **({"training": self.training[name]} if name in self.training else {})}
                (tmp / "stage.json").write_text(json.dumps(stage), encoding="utf-8")
        if adapter:
            merged = merged_copy(vlm)
            remove_adapter(vlm)
            return merged
        return vlm

    def _stage_eval(self, tag: str, row: str, key: str, vlm_fn: Callable[[], VLM], split: Split,
                    goal_member_nll: list[float] | None = None) -> dict:
        """Evaluate (or reuse the stored evaluation of) one table row: {"metrics", "member_nll"}."""
        path = self.out / "stages" / tag / f"{row}.json"
        label = f"{tag}/{row}"
        if path.is_file() and not self.fresh:
            stored = read_json(path)
            if stored.get("key") == key:
                if "training" in stored:
                    self.training[label] = stored["training"]
                return stored
        vlm = vlm_fn()
        queries = self._queries(split)
        with self.rep.task(f"evaluate {label}", len(queries), "q") as task:
            metrics, samples = self._timed(f"eval {label}", lambda: evaluate(
                vlm, self.data, split, self.eval_cfg, self.judge, split.seed, on_progress=task.advance, queries=queries,
                goal_member_nll=goal_member_nll, is_goal=row == "goal"))
        _, ci95, counts = scenario_cells(self.data, split, samples, split.seed)
        stored = {"key": key, "metrics": metrics, "ci95": ci95, "n": counts, "member_nll": member_losses(samples),
                  **({"training": self.training[label]} if label in self.training else {})}
        if self.main:
            write_text(self.out / "samples" / tag / f"{row}.jsonl",
                       "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
            write_json(path, stored)
        return stored

    def _queries(self, split: Split) -> list:
        key = (split.scenario, split.seed)
        if key not in self._query_cache:
            self._query_cache[key] = build_queries(self.data, split, self.eval_cfg, split.seed)
        return self._query_cache[key]

    # ---- stages ----------------------------------------------------------------------
    def load_data(self) -> None:
        if self.data_dir is None:
            self.data_dir = self.out / "dataset"
            build = self.data_dir / "build.json"
            stored = read_json(build) if build.is_file() else {}
            stale = self.fresh or stored.get("config") != self.cfg.data.model_dump() or stored.get("code") != component_hash("data")
            if stale and self.main:
                with self.rep.task("render dataset", planned_images(self.cfg.data), "img") as task:
                    self._timed("data", lambda: build_dataset(self.cfg.data, self.data_dir, progress_callback(task)))
            distributed.barrier()  # the other processes read what the main one built
        self.data = self._preloaded or self._timed("data load", lambda: load_dataset_dir(self.data_dir))
        # A dataset built here is described by its build.json (config, data-code hash, counts); one
        # given with --data may have been edited in place, so its files are fingerprinted too.
        self.data_key = content_key(self.data.build, dir_fingerprint(self.data_dir) if self._external_data else None)
        self.judge = make_judge(self.eval_cfg.judge, self.eval_cfg, self.out / "judge-cache")

    def foundation(self) -> VLM:
        """The model every fine-tune starts from: the shipped pretrained base (default), a local
        checkpoint (`model.path`), or a builder's model trained here on the foundation data."""
        cfg = self.cfg
        if starts_pretrained(cfg.model):
            vlm = build_model(cfg.model, [], cfg.seed)
            # The data and seed enter here too: every fine-tune's key chains from this one.
            self.foundation_key = content_key("base", self.data_key, cfg.model.model_dump(), base_fingerprint(cfg.model),
                                              cfg.seed, component_hash("training"))
        else:
            self.foundation_key = content_key("foundation", self.data_key, cfg.model.model_dump(),
                                              cfg.foundation.model_dump(), cfg.seed, component_hash("training"))
            vlm = self._stage_model("foundation", self.foundation_key, lambda: self._train_foundation())
        self.encoder = Encoder(vlm, self.data)
        self.foundation_examples = self._replay_examples(vlm)
        return vlm

    def _train_foundation(self) -> VLM:
        cfg = self.cfg
        vlm = build_model(cfg.model, text_corpus(self.data), cfg.seed)
        examples = Encoder(vlm, self.data).examples(foundation_qas(self.data, cfg.seed))
        streams = {"train": Stream([(examples, cfg.foundation.batch_size)], vlm.collate, f"foundation:{cfg.seed}")}
        self._train("foundation", vlm, Finetune(), streams, cfg.foundation.model_dump(), None, cfg.seed)
        return vlm

    def _replay_examples(self, vlm: VLM) -> list[dict]:
        """What fine-tuning replays (`finetune.replay_fraction` of each batch) so the base keeps its
        Real and World knowledge: the shipped base's own pretraining tasks, a builder's foundation
        data, and for a loaded checkpoint nothing unless `finetune.replay_fraction` is set."""
        cfg = self.cfg
        if cfg.model.path is None and cfg.model.name == "tiny-base":
            return [{"answer": vlm.encode(f"replay-{i}", s.image, s.question, s.answer)}
                    for i, s in enumerate(replay_samples(REPLAY_POOL, cfg.seed))]
        if cfg.model.path and "replay_fraction" not in cfg.finetune.model_fields_set:
            return []
        return self.encoder.examples(foundation_qas(self.data, cfg.seed))

    # ---- the whole run ---------------------------------------------------------------
    def _tag(self, split: Split) -> str:
        """Where a split's stages live: the scenario name, under seed-<s>/ for extra seeds."""
        return split.scenario if split.seed == self.cfg.seed else f"seed-{split.seed}/{split.scenario}"

    def scenario(self, scenario: str, seed: int, foundation: VLM, finetuned: VLM) -> dict:
        """Split, Goal, every method and their evaluations for one scenario and seed."""
        cfg = self.cfg
        split = make_split(self.data, scenario, cfg.split, seed)
        tag = self._tag(split)
        self.rep.info(f"scenario {tag}: {len(split.forget_persons)} persons and {len(split.forget_events)} events "
                      f"forgotten; D_f_train {len(split.f_train)}, D_f_test {len(split.f_test)}, D_r {len(split.retain)}")
        eval_key = content_key(self.eval_cfg.model_dump(), split.summary(), self.data_key, component_hash("eval"),
                               [dir_fingerprint(d) for d in (self.eval_cfg.pope_dir, self.eval_cfg.real_dir) if d])
        goal_vlm, goal_key = self.goal(foundation, split)
        goal = self._stage_eval(tag, "goal", content_key(eval_key, goal_key), lambda: goal_vlm, split)
        ref = goal.get("member_nll")
        entry: dict[str, Any] = {"split": split.summary(), "forget": split.forget_names(self.data)}
        finetuned_key = content_key(eval_key, self.finetuned_key, goal_key)
        rows = {"finetuned": self._stage_eval(tag, "finetuned", finetuned_key, lambda: finetuned, split, ref)}
        probes = {"finetuned": self.probe_row(tag, "finetuned", finetuned_key, lambda: finetuned, split),
                  "goal": self.probe_row(tag, "goal", content_key(eval_key, goal_key), lambda: goal_vlm, split)}
        methods, probes["methods"], trajectory = {}, {}, self.trajectory_settings(split)
        for name in cfg.methods:
            if METHODS.get(name).balance_concepts and scenario != "both":
                continue  # balancing needs both concepts; elsewhere it equals its base method
            key = content_key(eval_key, self.finetuned_key, goal_key, name, self.method_settings(name), seed,
                              METHODS.get(name).defaults, object_source_hash(METHODS.get(name)), trajectory)
            unlearned = Lazy(lambda n=name: self.unlearn(  # made only if a stage needs it
                n, finetuned, split, lambda vlm: self.subset_columns(vlm, split), trajectory[0] if trajectory else 0))
            methods[name] = self._stage_eval(tag, name, key, unlearned, split, ref)
            probes["methods"][name] = self.probe_row(tag, name, key, unlearned, split)
            if unlearned.made:
                self._release_unlearned(unlearned(), tag, name)
        if probes["goal"] is not None:
            entry["robustness"] = probes
            if trajectory:
                entry["trajectory"] = self.trajectories(probes, methods)
        rows["goal"] = goal
        entry["knows_targets"] = knows_targets(rows["finetuned"]["metrics"], scenario, self.eval_cfg)
        for part in ("metrics", "ci95", "n"):
            table = entry if part == "metrics" else entry.setdefault(part, {})
            table.update({row: stored.get(part, {}) for row, stored in rows.items()})
            table["methods"] = {name: stored.get(part, {}) for name, stored in methods.items()}
        return entry

    def run(self) -> dict:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // distributed.world_size()))
        for name in dict.fromkeys(cfg.methods + cfg.probes.sequential_methods):
            make_method(name, self.method_settings(name)[1])  # fail before any work on a bad name or NPO.bta
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
        results = {"pebench_version": __version__, "versions": versions(), "seed": cfg.seed, "seeds": seeds,
                   "config": cfg.model_dump(mode="json"),
                   "dataset": {"path": str(self.data_dir), "build_config": self.data.build["config"],
                               **self.data.build["counts"]},
                   "scenarios": aggregate_seeds(list(per_seed.values())),
                   **({"sequential": sequential} if sequential else {}), "timings_s": self.timings,
                   "training": {k: v["final"] for k, v in self.training.items()},
                   "world_size": distributed.world_size(), "warnings": fallback_warnings(cfg) + unlearnt_warnings(per_seed),
                   "hardware": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                                "device": str(finetuned.device)}}
        if len(seeds) > 1:
            results["per_seed"] = {str(s): v for s, v in per_seed.items()}
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


