"""MANU: modality-aware neuron unlearning (Liu et al., ACL 2025, "Modality-Aware Neuron Pruning
for Unlearning in Multimodal Large Language Models", arXiv 2502.15910): no gradient steps; the
MLP neurons most specific to the forget data, by four importance statistics, are pruned in the
vision encoder and in the language model separately."""

from __future__ import annotations

import torch

from pebench.core import distributed
from pebench.methods.base import METHODS, Method
from pebench.methods.modality import in_modality

# The output projection of an MLP block: its input columns are the block's neurons.
DOWN_PROJECTIONS = ("down_proj", "fc2", "linear_fc2")  # Llama / Gemma, CLIP / SigLIP / InternViT, Qwen3-VL
STATISTICS = ("absolute", "frequency", "variance", "rms")


def neuron_statistics(activations: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four importance statistics of each neuron [H] over its activations [N, H]: mean |a|,
    the share of positive activations, the variance and the root mean square."""
    return statistics_from_sums(activation_sums(activations))


def activation_sums(activations: torch.Tensor) -> torch.Tensor:
    """[5, H] sufficient sums of activations [N, H]: n, Σ|a|, Σ[a > 0], Σa, Σa² (sums add up
    across batches and processes, so the statistics are those of the whole data)."""
    a = activations.double()
    return torch.stack([torch.full_like(a[0], a.shape[0]), a.abs().sum(0), (a > 0).double().sum(0), a.sum(0), (a * a).sum(0)])


def statistics_from_sums(sums: torch.Tensor) -> dict[str, torch.Tensor]:
    n, absolute, positive, total, squares = sums / sums[0].clamp(min=1)
    return {"absolute": absolute.float(), "frequency": positive.float(),
            "variance": (squares - total ** 2).clamp(min=0).float(), "rms": squares.sqrt().float()}


def specificity(forget: dict[str, torch.Tensor], retain: dict[str, torch.Tensor],
                weights: dict[str, float] | None = None) -> torch.Tensor:
    """Σ_s w_s · r_s / mean(r_s) over the statistics s, r_s = I_s(forget) / (I_s(retain) + 1e-8):
    how much more a neuron serves the forget data than the retained data, each statistic's ratio
    scaled by its mean over the layer so that none dominates by its units (w_s: 1 unless given;
    the method weighs frequency 0, as the authors' release does)."""
    weights = weights or {}
    ratios = {s: forget[s] / (retain[s] + 1e-8) for s in STATISTICS}
    return sum(weights.get(s, 1.0) * r / r.mean().clamp(min=1e-12) for s, r in ratios.items())


def layer_index(name: str) -> int | None:
    """The block number in a module name (`...layers.3.mlp.down_proj` → 3), None without one."""
    parts = name.split(".")
    return next((int(parts[i + 1]) for i in range(len(parts) - 1) if parts[i] in ("layers", "layer", "blocks")
                 and parts[i + 1].isdigit()), None)


def last_layers(names: list[str], count: int) -> list[str]:
    """The names among `names` in the last `count` blocks (all of them with `count` 0)."""
    indices = sorted({i for i in map(layer_index, names) if i is not None})
    kept = set(indices[-count:]) if count else set(indices)
    return [n for n in names if layer_index(n) is None or layer_index(n) in kept]


def top_fraction(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices of the round(fraction · n) highest scores (at least one when fraction > 0)."""
    k = max(1, round(fraction * scores.numel())) if fraction > 0 else 0
    return torch.topk(scores, k).indices if k else scores.new_zeros(0, dtype=torch.long)


def _collect(model, modules: dict[str, torch.nn.Linear], batches: list[dict]) -> dict[str, dict[str, torch.Tensor]]:
    """The statistics of each down projection's inputs over `batches` (the language model's at
    the non-padding positions; the vision encoder's at every patch: told apart by the module's
    modality), over every process's share."""
    sums: dict[str, torch.Tensor] = {}
    current: dict[str, torch.Tensor] = {}

    def record(name: str, args: tuple) -> None:
        a = args[0].detach()
        keep = current["attention_mask"]
        part = activation_sums(a[keep.bool()] if in_modality(name, "language") else a.reshape(-1, a.shape[-1]))
        sums[name] = sums[name] + part if name in sums else part

    hooks = [module.register_forward_pre_hook(lambda _m, args, n=name: record(n, args)) for name, module in modules.items()]
    try:
        with torch.no_grad():
            for batch in batches:
                inputs = {k: v for k, v in model.to_device(batch).items() if k != "labels"}
                current["attention_mask"] = inputs["attention_mask"]
                model.model(**inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: statistics_from_sums(distributed.mean_of_processes(s)) for name, s in sums.items()}


@METHODS.register("MANU")
class ModalityAwareNeuronUnlearning(Method):
    """Before unlearning (and instead of any training step): run `batches` forget and retain
    batches through the Finetuned model, score each MLP neuron of the vision encoder and of the
    language model by `specificity`, and prune (zero the down-projection column of) the top
    `fraction` of the neurons in each modality's last `layers` blocks (the authors' release
    prunes the last three; 0: every block), with the frequency statistic weighted
    `frequency_weight` (the release: 0). The one knob, `fraction`, is chosen by the same sweep
    rule as the other methods' learning rates (`scripts/method_sweep.py`). Kept on purpose: each
    statistic's ratio is scaled by its mean over the pruned blocks, pebench's normalisation."""

    name = "MANU"
    source = "Liu et al., ACL 2025, arXiv 2502.15910"
    supports_sharding = False  # whole gradients / activations (one process or DDP)
    defaults = {"fraction": 0.02, "batches": 4, "layers": 3, "frequency_weight": 0.0}
    ranges = {"fraction": ">=0,<=1", "batches": ">=1", "layers": ">=0", "frequency_weight": ">=0"}
    trains = False
    supports_lora = False  # pruning edits the base weights, which a LoRA adapter cannot hold

    def prepare(self, model, draw, ref):
        modules = {n: m for n, m in model.model.named_modules()
                   if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in DOWN_PROJECTIONS}
        drawn = [draw() for _ in range(int(self.params["batches"]))]
        forget = _collect(model, modules, [b["forget"]["answer"] for b in drawn])
        retain = _collect(model, modules, [b["retain"]["answer"] for b in drawn])
        pruned = {}
        for modality in ("vision", "language"):
            names = last_layers([n for n in modules if in_modality(n, modality)], int(self.params["layers"]))
            if not names:
                continue
            weights = {"frequency": float(self.params["frequency_weight"])}
            scores = torch.cat([specificity(forget[n], retain[n], weights) for n in names])
            chosen = top_fraction(scores, self.params["fraction"])
            offsets = torch.tensor([0, *[modules[n].in_features for n in names]]).cumsum(0)
            with torch.no_grad():
                for i, name in enumerate(names):
                    local = chosen[(chosen >= offsets[i]) & (chosen < offsets[i + 1])] - offsets[i]
                    modules[name].weight[:, local] = 0
            pruned[f"pruned_{modality}"] = float(len(chosen))
        return pruned

    def loss(self, model, batches, ref):  # never called: MANU takes no gradient steps
        raise NotImplementedError("MANU prunes in prepare() and takes no steps")
