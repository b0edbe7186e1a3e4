"""The probe stages of `pebench run` ("Does it really forget?", `pebench.probes`): for each
probed row (Finetuned, Goal, every method) the quantization and relearning attacks and the
row's Efficacy / Retain on the fixed subset of evaluation during unlearning, stored under
stages/<scenario>/<row>.probes.json with their own key; and each method's trajectory with
its chosen checkpoint. `Pipeline` mixes this in."""

from __future__ import annotations

from typing import Any, Callable

from pebench.eval.evaluate import build_queries
from pebench.fingerprint import component_hash
from pebench.io import read_json, write_json
from pebench.models import VLM
from pebench.probes.measure import forget_columns
from pebench.probes.quant import quantized_copy
from pebench.probes.relearn import attack_examples, halves, relearned
from pebench.probes.trajectory import SUBSET_SETS, chosen_checkpoint, subset_queries
from pebench.run_support import content_key
from pebench.splits import Split

FORGET_SETS = ("f_train", "f_test")


class ProbeStages:
    """Robustness probes of one evaluated row (a mixin of `Pipeline`)."""

    cfg: Any

    def probed(self, split: Split) -> bool:
        pc = self.cfg.probes
        return split.scenario in pc.scenarios and bool(pc.quant_bits or pc.relearn_steps or pc.every)

    def trajectory_settings(self, split: Split) -> tuple[int, int] | None:
        """What evaluation during unlearning adds to a method's key (it runs inside unlearning)."""
        pc = self.cfg.probes
        return (pc.every, pc.subset) if self.probed(split) and pc.every else None

    def subset_columns(self, vlm: VLM, split: Split) -> dict[str, float]:
        """Efficacy and Retain on the split's fixed subset (evaluation during unlearning)."""
        queries = subset_queries(self._queries(split), self.cfg.probes.subset, split.seed)
        return self._columns(vlm, split, queries, SUBSET_SETS)

    def trajectories(self, probes: dict, methods: dict[str, dict]) -> dict:
        """Each method's points (step 0: the Finetuned model) and the checkpoint its rule picks."""
        eps, goal = self.cfg.probes.epsilon, probes["goal"]["subset"]
        start = {"step": 0, **probes["finetuned"]["subset"]}
        out: dict[str, Any] = {"goal": goal, "epsilon": eps, "methods": {}}
        for name, stored in methods.items():
            points = [start, *stored.get("training", {}).get("trajectory", [])]
            out["methods"][name] = {"points": points, "chosen": chosen_checkpoint(points, goal, eps)}
        return out

    def probe_row(self, tag: str, row: str, row_key: str, model: Callable[[], VLM], split: Split) -> dict | None:
        """The row's probe results (stored or computed); None when the scenario is not probed."""
        pc = self.cfg.probes
        if not self.probed(split):
            return None
        path = self.out / "stages" / tag / f"{row}.probes.json"
        key = content_key(row_key, pc.model_dump(), component_hash("probes"))
        stored = read_json(path) if path.is_file() and not self.fresh else {}
        if stored.get("key") == key:
            return stored["probes"]
        vlm = model()
        with self.rep.task(f"probe {tag}/{row}", len(pc.quant_bits) + bool(pc.relearn_steps) + bool(pc.every),
                           "probe") as task:
            probes = self._timed(f"probes {tag}/{row}", lambda: self._probes(vlm, split, f"{tag}:{row}", task.advance))
        if self.main:
            write_json(path, {"key": key, "probes": probes})
        return probes

    def _probes(self, vlm: VLM, split: Split, seed: str, advance: Callable[[], None]) -> dict:
        pc = self.cfg.probes
        out: dict[str, Any] = {}
        if pc.every:
            out["subset"] = self.subset_columns(vlm, split)
            advance()
        for bits in pc.quant_bits:
            quantized = vlm.with_model(quantized_copy(vlm.model, bits))
            out[f"quant{bits}"] = self._columns(quantized, split, self._queries(split), ("f_train", "retain"))
            advance()
        parts = halves(self.data, split) if pc.relearn_steps else None
        if parts:
            attack, held_out = parts
            attacked = relearned(vlm, attack_examples(self.encoder, self.data, attack), pc.relearn_steps, pc.relearn_lr,
                                 pc.relearn_batch_size, seed)
            queries = build_queries(self.data, held_out, self.eval_cfg, split.seed)
            out["relearn"] = {"before": self._columns(vlm, held_out, queries, FORGET_SETS),
                              "after": self._columns(attacked, held_out, queries, FORGET_SETS)}
            advance()
        return out

    def _columns(self, vlm: VLM, split: Split, queries: list, sets: tuple[str, ...]) -> dict[str, float]:
        return forget_columns(vlm, self.data, split, queries, sets, self.eval_cfg, self.judge)
