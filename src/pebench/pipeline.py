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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from pebench import __version__
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
from pebench.models import VLM, build_model, load_vlm
from pebench.progress import Reporter, log, progress_callback
from pebench.report.tables import table1_markdown, table2_markdown
from pebench.splits import Split, make_split
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
                 data: PebenchData | None = None):
        """`data_dir`: an existing dataset to use instead of building one under `out`
        (`data`: the same, already loaded)."""
        self.cfg, self.out, self.rep = cfg, Path(out), reporter
        self.data_dir = Path(data_dir) if data_dir else None
        self._preloaded = data
        self.timings: dict[str, float] = {}
        self._retain_cache: dict[tuple[str, ...], list[dict]] = {}
        self.training: dict[str, Any] = {}

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

        with self.rep.task(f"train {label}", tc["steps"], "step") as task:
            result = train(vlm.model, lambda b: method.loss(vlm, b, ref), streams, steps=tc["steps"],
                           lr=tc["lr"], warmup=tc.get("warmup", 0), weight_decay=tc.get("weight_decay", 0.0),
                           grad_clip=tc["grad_clip"], seed=seed, on_step=lambda s, logs: on_step(s, logs, task))
        self.training[label] = {"final": result.history[-1], "history": result.history}

    def _stage_model(self, name: str, key: str, make: Callable[[], VLM]) -> VLM:
        """Load model stage `name` if its key matches, else build it with `make` and save it."""
        path = self.out / "models" / name
        meta = path / "stage.json"
        stored = read_json(meta) if meta.is_file() else {}
        if stored.get("key") == key:
            self.rep.info(f"[dim]reusing {name} (cached)[/dim]")
            if "training" in stored:
                self.training[name] = stored["training"]
            return load_vlm(path)
        vlm = self._timed(name, make)
        with atomic_path(path) as tmp:
            vlm.save(tmp)
            stage = {"key": key, **({"training": self.training[name]} if name in self.training else {})}
            (tmp / "stage.json").write_text(json.dumps(stage), encoding="utf-8")
        return vlm

    def _stage_eval(self, scenario: str, row: str, key: str, vlm_fn: Callable[[], VLM], split: Split) -> dict:
        """Evaluate (or reuse the stored evaluation of) one table row."""
        path = self.out / "stages" / scenario / f"{row}.json"
        label = f"{scenario}/{row}"
        if path.is_file():
            stored = read_json(path)
            if stored.get("key") == key:
                if "training" in stored:
                    self.training[label] = stored["training"]
                return stored["metrics"]
        vlm = vlm_fn()
        queries = build_queries(self.data, split, self.cfg.eval, self.cfg.seed)
        with self.rep.task(f"evaluate {scenario}/{row}", len(queries), "q") as task:
            metrics, samples = self._timed(f"eval {scenario}/{row}", lambda: evaluate(
                vlm, self.data, split, self.cfg.eval, self.judge, self.cfg.seed, on_progress=task.advance, queries=queries))
        write_text(self.out / "samples" / scenario / f"{row}.jsonl",
                   "".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
        write_json(path, {"key": key, "metrics": metrics,
                          **({"training": self.training[label]} if label in self.training else {})})
        return metrics

    def _sft_streams(self, examples: list[dict], tc: TrainConfig, seed: str) -> dict[str, Stream]:
        replay = round(tc.batch_size * tc.replay_fraction)
        parts = [(examples, tc.batch_size - replay), (self.foundation_examples, replay)]
        return {"train": Stream(parts, self.encoder.vlm.collate, seed)}

    # ---- stages ----------------------------------------------------------------------
    def load_data(self) -> None:
        if self.data_dir is None:
            self.data_dir = self.out / "dataset"
            build = self.data_dir / "build.json"
            if not (build.is_file() and read_json(build).get("config") == self.cfg.data.model_dump()):
                with self.rep.task("render dataset", planned_images(self.cfg.data), "img") as task:
                    self._timed("data", lambda: build_dataset(self.cfg.data, self.data_dir, progress_callback(task)))
        self.data = self._preloaded or self._timed("data load", lambda: load_dataset_dir(self.data_dir))
        self.data_key = content_key(self.data.build)
        self.judge = make_judge(self.cfg.eval.judge)

    def foundation(self) -> VLM:
        cfg = self.cfg
        key = content_key("foundation", self.data_key, cfg.model.model_dump(), cfg.foundation.model_dump(), cfg.seed)

        def make() -> VLM:
            vlm = build_model(cfg.model, text_corpus(self.data), cfg.seed)
            if cfg.model.path:  # a real pretrained model already knows the world; no foundation training
                return vlm
            enc = Encoder(vlm, self.data)
            examples = enc.examples(foundation_qas(self.data, cfg.seed))
            streams = {"train": Stream([(examples, cfg.foundation.batch_size)], vlm.collate, f"foundation:{cfg.seed}")}
            self._train("foundation", vlm, Finetune(), streams, cfg.foundation.model_dump(), None, cfg.seed)
            return vlm

        self.foundation_key = key
        vlm = self._stage_model("foundation", key, make)
        self.encoder = Encoder(vlm, self.data)
        self.foundation_examples = self.encoder.examples(foundation_qas(self.data, cfg.seed))
        return vlm

    def _sft_model(self, name: str, base: VLM, image_ids: list[str], key: str) -> VLM:
        tc = self.cfg.finetune

        def make() -> VLM:
            vlm = VLM(copy.deepcopy(base.model), base.processor)
            examples = self.encoder.examples(pebench_qas(self.data, image_ids))
            self._train(name, vlm, Finetune(), self._sft_streams(examples, tc, f"{name}:{self.cfg.seed}"),
                        tc.model_dump(), None, self.cfg.seed)
            return vlm

        return self._stage_model(name, key, make)

    def finetuned(self, foundation: VLM) -> VLM:
        ids = sorted(r.image_id for r in self.data.of_kind("pebench"))
        self.finetuned_key = content_key("finetuned", self.foundation_key, self.cfg.finetune.model_dump())
        return self._sft_model("finetuned", foundation, ids, self.finetuned_key)

    def goal(self, foundation: VLM, split: Split) -> tuple[VLM, str]:
        key = content_key("goal", self.foundation_key, self.cfg.finetune.model_dump(), sorted(split.retain))
        return self._sft_model(f"goal-{split.scenario}", foundation, sorted(split.retain), key), key

    def forget_qas(self, split: Split, single_image: bool = False) -> dict[str, list[QA]]:
        """The forget data by concept: questions about the forgotten person (identity) or
        event (scene) on D_f_train images (only the first image of each target if `single_image`)."""
        recs = {r.image_id: r for r in self.data.images}

        def images(target_of) -> list[str]:
            ids = [iid for iid in split.f_train if target_of(recs[iid]) is not None]
            if single_image:
                first: dict[int, str] = {}
                for iid in ids:
                    first.setdefault(target_of(recs[iid]), iid)
                ids = sorted(first.values())
            return ids

        person = images(lambda r: r.person_id if r.person_id in split.forget_persons else None)
        event = images(lambda r: r.event_id if r.event_id in split.forget_events else None)
        groups = {"person": pebench_qas(self.data, person, ("identity",)), "event": pebench_qas(self.data, event, ("scene",))}
        return {c: qas for c, qas in groups.items() if qas}

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
        vlm = VLM(copy.deepcopy(finetuned.model), finetuned.processor)
        ref = finetuned if method.needs_reference else None
        seed = f"{split.scenario}:{name}:{self.cfg.seed}"
        groups = {c: self.encoder.examples(qas, refusal=True, extra=method.extra_views)
                  for c, qas in self.forget_qas(split, method.single_image).items()}
        if method.balance_concepts:
            share = max(1, tc["batch_size"] // len(groups))
            streams = {f"forget_{c}": Stream([(ex, share)], vlm.collate, f"forget_{c}:{seed}") for c, ex in groups.items()}
        else:
            mixed = [ex for c in sorted(groups) for ex in groups[c]]
            streams = {"forget": Stream([(mixed, tc["batch_size"])], vlm.collate, "forget:" + seed)}
        if method.uses_retain:
            streams["retain"] = Stream([(self.retain_examples(split), tc["batch_size"])], vlm.collate, "retain:" + seed)
        self._timed(f"unlearn {split.scenario}/{name}",
                    lambda: self._train(f"{split.scenario}/{name}", vlm, method, streams, tc, ref, self.cfg.seed))
        return vlm

    # ---- the whole run ---------------------------------------------------------------
    def run(self) -> dict:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
        for name in cfg.methods:
            METHODS.get(name)  # fail before any work on an unknown method
        self.rep.info(f"pebench {__version__}: run directory {self.out}")
        self.load_data()
        foundation = self.foundation()
        finetuned = self.finetuned(foundation)
        scenarios: dict[str, dict] = {}
        for scenario in cfg.scenarios:
            split = make_split(self.data, scenario, cfg.split, cfg.seed)
            self.rep.info(f"scenario {scenario}: {len(split.forget_persons)} persons and {len(split.forget_events)} events "
                          f"forgotten; D_f_train {len(split.f_train)}, D_f_test {len(split.f_test)}, D_r {len(split.retain)}")
            eval_key = content_key(cfg.eval.model_dump(), split.summary(), self.data_key)
            goal_vlm, goal_key = self.goal(foundation, split)
            entry: dict[str, Any] = {"split": split.summary()}
            entry["finetuned"] = self._stage_eval(scenario, "finetuned", content_key(eval_key, self.finetuned_key),
                                                  lambda: finetuned, split)
            entry["goal"] = self._stage_eval(scenario, "goal", content_key(eval_key, goal_key), lambda g=goal_vlm: g, split)
            entry["methods"] = {}
            for name in cfg.methods:
                if METHODS.get(name).balance_concepts and scenario != "both":
                    continue  # balancing needs both concepts; elsewhere it equals its base method
                key = content_key(eval_key, self.finetuned_key, name, self.method_settings(name), cfg.seed,
                                  METHODS.get(name).defaults)
                entry["methods"][name] = self._stage_eval(scenario, name, key,
                                                          lambda n=name, s=split: self.unlearn(n, finetuned, s), split)
            scenarios[scenario] = entry
        results = {"pebench_version": __version__, "versions": versions(), "seed": cfg.seed,
                   "config": cfg.model_dump(mode="json"), "dataset": {"path": str(self.data_dir), "build_config": self.data.build["config"],
                               **self.data.build["counts"]},
                   "scenarios": scenarios, "timings_s": self.timings,
                   "training": {k: v["final"] for k, v in self.training.items()}}
        write_json(self.out / "results.json", results)
        write_text(self.out / "table.md", table1_markdown(results))
        if "both" in scenarios:
            write_text(self.out / "table2.md", table2_markdown(results))
        write_json(self.out / "training_logs.json", self.training)
        return results


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
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise PebenchError(f"cannot write to run directory {out}: {exc.strerror}") from None
    write_json(cfg_file, cfg.model_dump(mode="json"))
