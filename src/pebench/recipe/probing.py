"""The probe stages of `pebench run` ("Does it really forget?", `pebench.probes`): for each
probed row (Finetuned, Goal, every method) the quantization and relearning attacks and the
row's Efficacy / Retain on the fixed subset of evaluation during unlearning, stored under
stages/<scenario>/<row>.probes.json with their own key; and each method's trajectory with
its chosen checkpoint. The probes read the run's context and reuse the training stages (Goal,
unlearning) for the sequential requests."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from pebench.core.fingerprint import object_source_hash
from pebench.eval.evaluate import build_queries
from pebench.methods.base import METHODS
from pebench.models import VLM
from pebench.probes.extraction import extraction_columns
from pebench.probes.measure import forget_columns
from pebench.probes.paraphrase import paraphrased
from pebench.probes.quant import quantized_copy
from pebench.probes.relearn import attack_examples, halves, relearned
from pebench.probes.sequential import efficacy_of, requests
from pebench.probes.text_only import text_only_columns
from pebench.probes.trajectory import SUBSET_SETS, chosen_checkpoint, subset_queries
from pebench.recipe import keys
from pebench.recipe.context import RunContext
from pebench.recipe.stage_io import StageIO
from pebench.recipe.training import TrainingStages
from pebench.splits import Split, make_split

FORGET_SETS = ("f_train", "f_test")


class ProbeStages:
    """Robustness probes of the evaluated rows, and the sequential requests, of one run."""

    def __init__(self, ctx: RunContext, io: StageIO, training: TrainingStages):
        self.ctx, self.io, self.training = ctx, io, training

    def probed(self, split: Split) -> bool:
        return keys.probed(self.ctx.cfg, split)

    def _text_only(self, split: Split) -> bool:
        return keys.text_only_probed(self.ctx.cfg, split)

    def subset_columns(self, vlm: VLM, split: Split) -> dict[str, float]:
        """Efficacy and Retain on the split's fixed subset (evaluation during unlearning)."""
        queries = subset_queries(self.io.queries(split), self.ctx.cfg.probes.subset, split.seed)
        return self._columns(vlm, split, queries, SUBSET_SETS)

    def trajectories(self, probes: dict, methods: dict[str, dict]) -> dict:
        """Each method's points (step 0: the Finetuned model) and the checkpoint its rule picks."""
        eps, goal = self.ctx.cfg.probes.epsilon, probes["goal"]["subset"]
        start = {"step": 0, **probes["finetuned"]["subset"]}
        out: dict[str, Any] = {"goal": goal, "epsilon": eps, "methods": {}}
        for name, stored in methods.items():
            if not METHODS.get(name).trains:
                continue  # no unlearning step (MANU prunes): no path, and its final model is not step 0's
            points = [start, *stored.get("training", {}).get("trajectory", [])]
            out["methods"][name] = {"points": points, "chosen": chosen_checkpoint(points, goal, eps)}
        return out

    def probe_row(self, tag: str, row: str, row_key: str, model: Callable[[], VLM], split: Split) -> dict | None:
        """The row's probe results (stored or computed); None when the scenario is not probed."""
        pc = self.ctx.cfg.probes
        if not self.probed(split):
            return None
        key = keys.probe_key(self.ctx.cfg, row_key)

        def compute() -> tuple[dict, None]:
            vlm = model()
            count = (len(pc.quant_bits) + bool(pc.relearn_steps) * (1 + pc.relearn_retain) + bool(pc.every) + bool(pc.paraphrase)
                     + self._text_only(split) + (pc.extraction and bool(split.forget_persons)))
            with self.ctx.rep.task(f"probe {tag}/{row}", count, "probe") as task:
                probes = self.ctx.timed(f"probes {tag}/{row}", lambda: self._probes(vlm, split, f"{tag}:{row}", task.advance))
            return {"key": key, "probes": probes}, None

        return self.io.record(self.ctx.out / "stages" / tag / f"{row}.probes.json", key, compute)["probes"]

    def _probes(self, vlm: VLM, split: Split, seed: str, advance: Callable[[], None]) -> dict:
        pc = self.ctx.cfg.probes
        out: dict[str, Any] = {}
        if pc.every:
            out["subset"] = self.subset_columns(vlm, split)
            advance()
        if pc.paraphrase:
            out["paraphrase"] = self._columns(vlm, split, paraphrased(self.io.queries(split)), ("f_test",))
            advance()
        if pc.extraction and split.forget_persons:
            out["extraction"] = extraction_columns(vlm, self.ctx.data, self.io.queries(split), split.forget_persons,
                                                   self.ctx.eval_cfg.identity_tokens, self.ctx.eval_cfg.batch_size)
            advance()
        if self._text_only(split):
            out["text_only"] = text_only_columns(vlm, self.ctx.data, split, self.ctx.eval_cfg.batch_size)
            advance()
        for bits in pc.quant_bits:
            quantized = vlm.with_model(quantized_copy(vlm.model, bits))
            out[f"quant{bits}"] = self._columns(quantized, split, self.io.queries(split), ("f_train", "retain"))
            advance()
        parts = halves(self.ctx.data, split) if pc.relearn_steps else None
        if parts:
            attack, held_out = parts
            attacked = relearned(vlm, attack_examples(self.ctx.encoder, self.ctx.data, attack), pc.relearn_steps, pc.relearn_lr,
                                 pc.relearn_batch_size, seed)
            queries = build_queries(self.ctx.data, held_out, self.ctx.eval_cfg, split.seed)
            out["relearn"] = {"before": self._columns(vlm, held_out, queries, FORGET_SETS),
                              "after": self._columns(attacked, held_out, queries, FORGET_SETS)}
            advance()
        if pc.relearn_steps and pc.relearn_retain:
            attacked = relearned(vlm, self.training.retain_examples(split), pc.relearn_steps, pc.relearn_lr,
                                 pc.relearn_batch_size, f"{seed}:retain")
            out["relearn_retain"] = self._columns(attacked, split, self.io.queries(split), FORGET_SETS)
            advance()
        return out

    def _columns(self, vlm: VLM, split: Split, queries: list, sets: tuple[str, ...]) -> dict[str, float]:
        return forget_columns(vlm, self.ctx.data, split, queries, sets, self.ctx.eval_cfg, self.ctx.dataset.judge)

    # ---- sequential requests ------------------------------------------------------------
    def sequential(self, foundation: VLM, finetuned: VLM) -> dict | None:
        """Every method (but the concept-balancing ones: each request forgets one concept) given
        the sequential requests, with the Goal model of `both` as the reference row; run when
        `both` is among the scenarios (its targets, split and Goal model are the requests')."""
        if not self.ctx.cfg.probes.sequential or "both" not in self.ctx.cfg.scenarios:
            return None
        both = make_split(self.ctx.data, "both", self.ctx.cfg.split, self.ctx.cfg.seed)
        goal, goal_key = self.training.goal(foundation, both)
        out: dict[str, Any] = {"requests": [label for label, _ in requests(self.ctx.data, both)],
                               "goal": self.sequential_reference(goal, both), "methods": {}}
        evaluation = self.io.evaluation_key(both)
        for name in self.ctx.cfg.probes.sequential_methods or self.ctx.cfg.methods:
            method = METHODS.get(name)
            if not method.balance_concepts:
                key = keys.sequential_key(self.ctx.cfg, evaluation, self.ctx.finetuned_key, goal_key, name,
                                                self.training.method_settings(name), method.defaults, object_source_hash(method))
                out["methods"][name] = self.sequential_probe(name, finetuned, both, key)
        return out

    def sequential_probe(self, name: str, finetuned: VLM, both: Split, key: str) -> list[dict]:
        """Method `name` given the sequential requests in turn (stored or computed)."""

        def compute() -> tuple[dict, None]:
            return {"key": key, "after": self.ctx.timed(f"sequential {name}", lambda: self._sequential(name, finetuned, both))}, None

        return self.io.record(self.ctx.out / "stages" / "sequential" / f"{name}.json", key, compute)["after"]

    def sequential_models(self, name: str, finetuned: VLM, both: Split) -> Iterator[tuple[str, Split, VLM]]:
        """(request, its split, the model after it) for each request in turn: each request is
        unlearnt from the model the previous one left."""
        model = finetuned
        for i, (label, part) in enumerate(requests(self.ctx.data, both)):
            unlearned = self.training.unlearn(name, model, part, tag=f"sequential-{i + 1}")
            model = self.ctx.lifecycle.carry_on(unlearned)
            yield label, part, model

    def _sequential(self, name: str, finetuned: VLM, both: Split) -> list[dict]:
        asked: list[tuple[str, Split]] = []
        after = []
        for label, part, model in self.sequential_models(name, finetuned, both):
            asked.append((label, part))
            after.append({"request": label, **self._request_columns(model, asked, both)})
        return after

    def sequential_reference(self, goal: VLM, both: Split) -> dict:
        """The Goal model of `both` (it never learnt any request) under the same measurements."""
        return self._request_columns(goal, requests(self.ctx.data, both), both)

    def _request_columns(self, vlm: VLM, asked: list[tuple[str, Split]], both: Split) -> dict[str, float]:
        """Efficacy on each request of `asked` (its D_f_train) and Retain on `both`'s D_r."""
        row = {label: efficacy_of(self._columns(vlm, part, build_queries(self.ctx.data, part, self.ctx.eval_cfg, both.seed),
                                                ("f_train",)))
               for label, part in asked}
        return row | self._columns(vlm, both, self.io.queries(both), ("retain",))
