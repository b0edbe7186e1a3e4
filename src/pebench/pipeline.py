"""`pebench run`: data -> foundation -> Finetuned -> per scenario (split, Goal, methods) ->
evaluation -> results.json and tables.

Every stage's output is stored under the run directory with a content key (a hash of the
config values, code version and input keys it depends on); a rerun in the same directory
reuses every stage whose key matches and redoes the rest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean, pstdev
from typing import Any, Callable

import torch

from pebench import __version__, distributed
from pebench.config import RunConfig, TrainConfig
from pebench.data.build import PebenchData, build_dataset, load_dataset_dir, planned_images
from pebench.data.qa import QA, REFUSALS, foundation_qas, pebench_qas, text_corpus
from pebench.errors import PebenchError
from pebench.eval.evaluate import build_queries, evaluate
from pebench.eval.judges import make_judge
from pebench.io import atomic_path, read_json, write_json, write_text
from pebench.methods import make_method
from pebench.methods.finetune import Finetune
from pebench.methods.base import METHODS, Method
from pebench.models import VLM, build_model
from pebench.models.builders import load_model_dir
from pebench.models.lora import add_adapter, load_adapter, merged_copy, reference, remove_adapter, save_adapter, write_adapter
from pebench.progress import Reporter, log, progress_callback
from pebench.report import write_report
from pebench.splits import Split, forget_qas, make_split
from pebench.train import Stream, train


def versions() -> dict[str, str]:
    """Versions of pebench and the libraries whose behaviour affects results."""
    import accelerate
    import datasets
    import peft
    import transformers

    return {"pebench": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__, "accelerate": accelerate.__version__,
            "datasets": datasets.__version__}


def content_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (plus the pebench version)."""
    blob = json.dumps([__version__, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class Encoder:
    """Encodes QA pairs once; the encodings are shared by every model of the run."""

    vlm: VLM
    data: PebenchData
    _records: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._records = {r.image_id: r for r in self.data.images}

    def example(self, qa: QA, refusal: bool = False, extra: Callable[[QA], dict[str, str]] | None = None) -> dict:
        """Views of one QA: "answer", optionally "refusal", and any `extra(qa)` answers."""
        rec = self._records[qa.image_id]
        answers = {"answer": qa.answer, **({"refusal": REFUSALS[qa.kind]} if refusal else {}), **(extra(qa) if extra else {})}
        return {view: self.vlm.encode(rec.image_id, rec.image, qa.question, text) for view, text in answers.items()}

    def examples(self, qas: list[QA], refusal: bool = False, extra: Callable[[QA], dict[str, str]] | None = None) -> list[dict]:
        return [self.example(q, refusal, extra) for q in qas]


class Pipeline:
    """Runs the whole benchmark for one RunConfig into `out`."""

    def __init__(self, cfg: RunConfig, out: Path, reporter: Reporter, data_dir: Path | None = None,
                 data: PebenchData | None = None, fresh: bool = False):
        """`data_dir`: an existing dataset to use instead of building one under `out`
        (`data`: the same, already loaded). `fresh`: recompute every stage, ignoring stored ones."""
        self.cfg, self.out, self.rep, self.fresh = cfg, Path(out), reporter, fresh
        self.data_dir = Path(data_dir) if data_dir else None
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

    def _train(self, label: str, vlm: VLM, method: Method, streams: dict[str, Stream], tc: dict, ref: VLM | None,
               seed: int) -> None:
        def on_step(step: int, logs: dict[str, float], task) -> None:
            task.advance()
            if step % 100 == 0 or step == tc["steps"] - 1:
                log.info("%s step %d/%d %s", label, step + 1, tc["steps"],
                         " ".join(f"{k}={v:.4g}" for k, v in logs.items()))

        checkpointing = self.cfg.model.gradient_checkpointing
        if checkpointing:
            vlm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            if self.lora:
                vlm.model.enable_input_require_grads()  # frozen embeddings would otherwise cut the graph
        try:
            with self.rep.task(f"train {label}", tc["steps"], "step") as task:
                result = train(vlm.model, lambda b: method.loss(vlm, b, ref), streams, steps=tc["steps"],
                               lr=tc["lr"], warmup=tc.get("warmup", 0), weight_decay=tc.get("weight_decay", 0.0),
                               grad_clip=tc["grad_clip"], seed=seed, on_step=lambda s, logs: on_step(s, logs, task),
                               log_every=max(1, tc["steps"] // 100))
        finally:
            if checkpointing:
                vlm.model.gradient_checkpointing_disable()
        self.training[label] = {"final": result.history[-1], "history": result.history}

    @property
    def lora(self) -> bool:
        return self.cfg.model.lora.enabled

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
                    goal_member_nll: list[float] | None = None, done: Callable[[VLM], None] | None = None) -> dict:
        """Evaluate (or reuse the stored evaluation of) one table row: {"metrics", "member_nll"}.
        `done(vlm)` is called after a fresh evaluation (e.g. to save and remove an adapter)."""
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
                vlm, self.data, split, self.cfg.eval, self.judge, split.seed, on_progress=task.advance, queries=queries,
                goal_member_nll=goal_member_nll, is_goal=row == "goal"))
        if done:
            done(vlm)
        stored = {"key": key, "metrics": metrics, "member_nll": [s["nll"] for s in samples if s["set"] == "mia_member"],
                  **({"training": self.training[label]} if label in self.training else {})}
        if self.main:
            write_text(self.out / "samples" / tag / f"{row}.jsonl",
                       "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
            write_json(path, stored)
        return stored

    def _queries(self, split: Split) -> list:
        key = (split.scenario, split.seed)
        if key not in self._query_cache:
            self._query_cache[key] = build_queries(self.data, split, self.cfg.eval, split.seed)
        return self._query_cache[key]

    def _sft_streams(self, examples: list[dict], tc: TrainConfig, seed: str) -> dict[str, Stream]:
        replay = round(tc.batch_size * tc.replay_fraction)
        parts = [(examples, tc.batch_size - replay), (self.foundation_examples, replay)]
        return {"train": Stream(parts, self.encoder.vlm.collate, seed)}

    # ---- stages ----------------------------------------------------------------------
    def load_data(self) -> None:
        if self.data_dir is None:
            self.data_dir = self.out / "dataset"
            build = self.data_dir / "build.json"
            stale = self.fresh or not (build.is_file() and read_json(build).get("config") == self.cfg.data.model_dump())
            if stale and self.main:
                with self.rep.task("render dataset", planned_images(self.cfg.data), "img") as task:
                    self._timed("data", lambda: build_dataset(self.cfg.data, self.data_dir, progress_callback(task)))
            distributed.barrier()  # the other processes read what the main one built
        self.data = self._preloaded or self._timed("data load", lambda: load_dataset_dir(self.data_dir))
        self.data_key = content_key(self.data.build)
        self.judge = make_judge(self.cfg.eval.judge, self.cfg.eval, self.out / "judge-cache")

    def foundation(self) -> VLM:
        cfg = self.cfg
        key = content_key("foundation", self.data_key, cfg.model.model_dump(), cfg.foundation.model_dump(), cfg.seed)

        def make() -> VLM:
            vlm = build_model(cfg.model, text_corpus(self.data), cfg.seed)
            enc = Encoder(vlm, self.data)
            examples = enc.examples(foundation_qas(self.data, cfg.seed))
            streams = {"train": Stream([(examples, cfg.foundation.batch_size)], vlm.collate, f"foundation:{cfg.seed}")}
            self._train("foundation", vlm, Finetune(), streams, cfg.foundation.model_dump(), None, cfg.seed)
            return vlm

        self.foundation_key = key
        # A pretrained model is loaded from model.path on every run instead of being copied into the run.
        vlm = build_model(cfg.model, [], cfg.seed) if cfg.model.path else self._stage_model("foundation", key, make)
        self.encoder = Encoder(vlm, self.data)
        self.foundation_examples = self.encoder.examples(foundation_qas(self.data, cfg.seed))
        return vlm

    def _sft_model(self, name: str, base: VLM, image_ids: list[str], key: str) -> VLM:
        tc = self.cfg.finetune

        def make() -> VLM:
            vlm = add_adapter(base, self.cfg.model.lora) if self.lora else base.with_model(copy.deepcopy(base.model))
            examples = self.encoder.examples(pebench_qas(self.data, image_ids))
            self._train(name, vlm, Finetune(), self._sft_streams(examples, tc, f"{name}:{self.cfg.seed}"),
                        tc.model_dump(), None, self.cfg.seed)
            return vlm

        return self._stage_model(name, key, make, base)

    def finetuned(self, foundation: VLM) -> VLM:
        ids = sorted(r.image_id for r in self.data.of_kind("pebench"))
        self.finetuned_key = content_key("finetuned", self.foundation_key, self.cfg.finetune.model_dump())
        return self._sft_model("finetuned", foundation, ids, self.finetuned_key)

    def goal(self, foundation: VLM, split: Split) -> tuple[VLM, str]:
        key = content_key("goal", self.foundation_key, self.cfg.finetune.model_dump(), sorted(split.retain))
        name = f"goal-{split.scenario}" + ("" if split.seed == self.cfg.seed else f"-seed{split.seed}")
        return self._sft_model(name, foundation, sorted(split.retain), key), key

    def retain_examples(self, split: Split) -> list[dict]:
        """Encoded D_r QAs of `split`, built once and shared by every method of the split."""
        if split.retain not in self._retain_cache:
            self._retain_cache[split.retain] = self.encoder.examples(pebench_qas(self.data, sorted(split.retain)))
        return self._retain_cache[split.retain]

    def method_settings(self, name: str) -> tuple[dict, dict]:
        """(training settings, hyperparameter overrides) of method `name` after config overrides."""
        uc = self.cfg.unlearn
        override = dict(uc.overrides.get(name, {}))
        tc = {"steps": override.pop("steps", uc.steps), "lr": override.pop("lr", uc.lr), "grad_clip": uc.grad_clip,
              "batch_size": override.pop("batch_size", uc.batch_size)}
        return tc, override

    def unlearn(self, name: str, finetuned: VLM, split: Split) -> VLM:
        tc, override = self.method_settings(name)
        method = make_method(name, override)
        if self.lora:  # a fresh adapter on the Finetuned model; the adapter-disabled model is the reference
            vlm = add_adapter(finetuned, self.cfg.model.lora)
            ref = reference(vlm) if method.needs_reference else None
        else:
            vlm = finetuned.with_model(copy.deepcopy(finetuned.model))
            ref = finetuned if method.needs_reference else None
        seed = f"{split.scenario}:{name}:{split.seed}"
        groups = {c: self.encoder.examples(qas, refusal=True, extra=method.extra_views)
                  for c, qas in forget_qas(self.data, split, method.single_image).items()}
        if method.balance_concepts:
            share = max(1, tc["batch_size"] // len(groups))
            streams = {f"forget_{c}": Stream([(ex, share)], vlm.collate, f"forget_{c}:{seed}") for c, ex in groups.items()}
        else:
            mixed = [ex for c in sorted(groups) for ex in groups[c]]
            streams = {"forget": Stream([(mixed, tc["batch_size"])], vlm.collate, "forget:" + seed)}
        if method.uses_retain:
            streams["retain"] = Stream([(self.retain_examples(split), tc["batch_size"])], vlm.collate, "retain:" + seed)
        label = f"{self._tag(split)}/{name}"
        self._timed(f"unlearn {label}", lambda: self._train(label, vlm, method, streams, tc, ref, split.seed))
        return vlm

    def _release_unlearned(self, vlm: VLM, tag: str, name: str) -> None:
        """Under LoRA, save an evaluated method's adapter under models/<tag>/<method> (and the
        merged model if asked) and take it off the Finetuned model."""
        if self.lora:
            if self.main:
                save_adapter(vlm, self.out / "models" / tag / name, merged=self.cfg.model.lora.save_merged)
            remove_adapter(vlm)

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
        eval_key = content_key(cfg.eval.model_dump(), split.summary(), self.data_key)
        goal_vlm, goal_key = self.goal(foundation, split)
        goal = self._stage_eval(tag, "goal", content_key(eval_key, goal_key), lambda: goal_vlm, split)
        ref = goal.get("member_nll")
        entry: dict[str, Any] = {"split": split.summary()}
        entry["finetuned"] = self._stage_eval(tag, "finetuned", content_key(eval_key, self.finetuned_key, goal_key),
                                              lambda: finetuned, split, ref)["metrics"]
        entry["methods"] = {}
        for name in cfg.methods:
            if METHODS.get(name).balance_concepts and scenario != "both":
                continue  # balancing needs both concepts; elsewhere it equals its base method
            key = content_key(eval_key, self.finetuned_key, goal_key, name, self.method_settings(name), seed,
                              METHODS.get(name).defaults)
            entry["methods"][name] = self._stage_eval(
                tag, name, key, lambda n=name: self.unlearn(n, finetuned, split), split, ref,
                done=lambda vlm, n=name: self._release_unlearned(vlm, tag, n))["metrics"]
        entry["goal"] = goal["metrics"]
        return entry

    def run(self) -> dict:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // distributed.world_size()))
        for name in cfg.methods:
            METHODS.get(name)  # fail before any work on an unknown method
        self.rep.info(f"pebench {__version__}: run directory {self.out}")
        self.load_data()
        foundation = self.foundation()
        finetuned = self.finetuned(foundation)
        seeds = [cfg.seed + i for i in range(cfg.seeds)]
        per_seed = {seed: {sc: self.scenario(sc, seed, foundation, finetuned) for sc in cfg.scenarios} for seed in seeds}
        results = {"pebench_version": __version__, "versions": versions(), "seed": cfg.seed, "seeds": seeds,
                   "config": cfg.model_dump(mode="json"),
                   "dataset": {"path": str(self.data_dir), "build_config": self.data.build["config"],
                               **self.data.build["counts"]},
                   "scenarios": aggregate_seeds(list(per_seed.values())), "timings_s": self.timings,
                   "training": {k: v["final"] for k, v in self.training.items()},
                   "world_size": distributed.world_size()}
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
        write_json(self.out / "results.json", results)  # with the report's time
        distributed.barrier()
        return results


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
        agg: dict[str, Any] = {"split": first["split"], "methods": {}, "std": {"methods": {}}}
        for row in ("finetuned", "goal"):
            agg[row], agg["std"][row] = _mean_std([e[row] for e in entries])
        for name in first["methods"]:
            agg["methods"][name], agg["std"]["methods"][name] = _mean_std([e["methods"][name] for e in entries])
        out[scenario] = agg
    return out


def remove_stale_temporaries(out: Path) -> None:
    """Delete the temporaries (`.<name>.<random>.tmp`, `.<name>.old`) that a killed run left
    in its run directory; they were never renamed into place, so nothing reads them."""
    for path in sorted(out.rglob(".*"), reverse=True):
        if path.name.endswith((".tmp", ".old")) and path.is_dir():
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
        remove_stale_temporaries(out)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise PebenchError(f"cannot write to run directory {out}: {exc.strerror}") from None
    write_json(cfg_file, cfg.model_dump(mode="json"))
