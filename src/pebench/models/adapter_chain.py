"""Unlearnt LoRA adapters that load by the standard route.

Under `--lora` a method's adapter is trained on the Finetuned model, which is the stock base
with the Finetuned adapter merged in. Saved alone, that adapter names the stock base as
`base_model_name_or_path`, so `PeftModel.from_pretrained(AutoModelForImageTextToText
.from_pretrained(<base>), dir)` would silently give a different model (the stock base plus the
method's delta, without the Finetuned one). So every model built from a chain of adapters keeps
the chain (`CHAIN`, on the merged model), and a method's adapter is stored as **one** adapter
whose ranks concatenate the chain's: for LoRA deltas ΔW_i = s_i·B_i·A_i (s_i = alpha_i / r_i),

    A = [A_1; A_2; ...]  (rows),   B = [s_1·B_1, s_2·B_2, ...]  (columns),   alpha = r = Σ r_i,

so that the stored adapter's delta s·B·A (s = 1) equals Σ ΔW_i exactly (up to float rounding):
the stock base plus this one adapter is the unlearnt model. Its model card says what it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

CHAIN = "pebench_adapter_chain"  # attribute of a merged model: the adapters merged into it, oldest first
WEIGHTS = "adapter_model.safetensors"


def adapter_state(peft_model, label: str) -> dict[str, Any]:
    """The active adapter of `peft_model` as the chain keeps it: its saved tensors, rank and scaling."""
    from peft import get_peft_model_state_dict

    cfg = peft_model.peft_config[peft_model.active_adapter]
    if getattr(cfg, "use_dora", False) or cfg.rank_pattern or cfg.alpha_pattern:
        raise ValueError("only plain LoRA adapters (one rank and alpha, no DoRA) can be chained")
    scaling = cfg.lora_alpha / (cfg.r ** 0.5 if cfg.use_rslora else cfg.r)
    tensors = {k: v.detach().to("cpu", torch.float32).clone() for k, v in get_peft_model_state_dict(peft_model).items()}
    return {"label": label, "r": cfg.r, "scaling": scaling, "tensors": tensors}


def chain_of(model) -> list[dict[str, Any]]:
    """The adapters merged into `model` (a plain model or the base under a peft model), oldest first."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return list(getattr(base, CHAIN, []))


def concatenated(states: list[dict[str, Any]]) -> tuple[dict[str, torch.Tensor], int]:
    """One adapter's tensors (scaling 1) whose delta is the sum of the states' deltas, and its rank."""
    keys = states[-1]["tensors"].keys()
    if any(s["tensors"].keys() != keys for s in states):
        raise ValueError("the chained adapters adapt different modules")
    out = {}
    for key in keys:
        if ".lora_A." in key:
            out[key] = torch.cat([s["tensors"][key] for s in states], dim=0)
        elif ".lora_B." in key:
            out[key] = torch.cat([s["scaling"] * s["tensors"][key] for s in states], dim=1)
        else:
            raise ValueError(f"cannot chain adapter tensor {key}")
    return out, sum(s["r"] for s in states)


def write_chained(peft_model, directory: Path, card: dict[str, Any]) -> None:
    """Rewrite the adapter `peft_model.save_pretrained` put in `directory` as the concatenation of
    its chain and itself, and write its model card (README.md)."""
    states = [*chain_of(peft_model), adapter_state(peft_model, str(card.get("method", "unlearnt")))]
    if len(states) > 1:
        tensors, rank = concatenated(states)
        saved = load_file(directory / WEIGHTS)
        dtype = next(iter(saved.values())).dtype
        save_file({k: v.to(dtype).contiguous() for k, v in tensors.items()}, directory / WEIGHTS)
        config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
        config.update(r=rank, lora_alpha=rank, use_rslora=False, rank_pattern={}, alpha_pattern={})
        (directory / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    base = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    (directory / "README.md").write_text(model_card(card, states, base), encoding="utf-8")


def model_card(card: dict[str, Any], states: list[dict[str, Any]], base: str | None) -> str:
    """What the stored adapter is, what it was made from, and how to load it."""
    chain = " -> ".join(["the base model", *(f"{s['label']} (LoRA rank {s['r']})" for s in states)])
    targets = card.get("forget", {})
    forgot = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in targets.items() if names) or "none recorded"
    return f"""---
library_name: peft
base_model: {base}
tags: [pebench, machine-unlearning, lora]
---
# {card.get("method", "unlearnt")} on PEBench scenario `{card.get("scenario", "?")}`

A LoRA adapter made by pebench: the model after unlearning with **{card.get("method", "?")}** in scenario
`{card.get("scenario", "?")}`. Forget targets: {forgot}.

Made as {chain}. Stored as one adapter of rank {sum(s['r'] for s in states)} whose ranks concatenate
those adapters' (their deltas summed exactly), so the base model plus this adapter is the unlearnt model.

```python
from peft import PeftModel
from transformers import AutoModelForImageTextToText

base = AutoModelForImageTextToText.from_pretrained("{base}")
model = PeftModel.from_pretrained(base, "<this directory>")
```
"""
