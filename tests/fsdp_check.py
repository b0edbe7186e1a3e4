"""Run by tests/test_distributed.py under 1 process and under 2 with the FSDP strategy: through
pebench's model lifecycle, fine-tunes a tiny LLaVA (full), unlearns with NPO (a second forward
per step through the frozen reference), then unlearns with a LoRA adapter (reference: the
adapter disabled), and generates with the result. The main process writes each phase's losses,
the share of parameters each process held while sharded, the fine-tuned model (HF format),
logits on a probe batch and the answers, under OUT/<builder> for each tiny family's builder named
after OUT (one launch checks them all: a launch's start-up costs more than a family's check)."""

import json
import sys
from pathlib import Path

import torch
from dist_setup import tiny_setup
from safetensors.torch import save_file

from pebench.config import LoraConfig
from pebench.core import distributed
from pebench.methods import make_method
from pebench.models.lifecycle import model_lifecycle
from pebench.models.sharding import local_share
from pebench.train import Stream, train


def _phase(life, start, seed, objective, streams, steps, lr):
    model = life.trainable(start, seed)
    share = local_share(model.model)
    ref = life.reference(model, start)
    result = train(model.model, lambda b: objective(model, b, ref), streams(model), steps=steps, lr=lr, log_every=1)
    return life.trained(model), [h["loss"] for h in result.history], share


def main(data_dir: str, out: str, *models: str) -> None:
    for model in models:
        check(data_dir, str(Path(out) / model), model)


def check(data_dir: str, out: str, model: str) -> None:
    cfg, base, records, qas, examples = tiny_setup(data_dir, model)
    forget = examples[:48]

    def sft_streams(vlm):
        return {"train": Stream([(examples, 16)], vlm.collate, "fsdp-check")}

    def forget_streams(vlm):
        return {"forget": Stream([(forget, 8)], vlm.collate, "forget"),
                "retain": Stream([(examples[48:], 8)], vlm.collate, "retain")}

    npo = make_method("NPO", {})
    full = model_lifecycle(cfg.model)
    lora = model_lifecycle(cfg.model.model_copy(update={"lora": LoraConfig(enabled=True, r=4, dropout=0.0)}))
    tuned, sft_losses, share = _phase(full, base, "sft", lambda m, b, ref: (m.nll(b["train"]["answer"]), {}), sft_streams, 12, 3e-3)
    unlearnt, npo_losses, _ = _phase(full, tuned, "npo", npo.loss, forget_streams, 4, 1e-3)
    adapted, lora_losses, lora_share = _phase(lora, tuned, "lora", npo.loss, forget_streams, 4, 1e-3)
    merged = lora.finish(adapted)
    probe = base.collate([examples[0]["answer"], examples[1]["answer"]])
    inputs = {k: v for k, v in probe.items() if k != "labels"}
    with torch.no_grad():
        logits = {name: m.model(**inputs).logits[:, -4:].tolist() for name, m in (("tuned", tuned), ("merged", merged))}
    prompts = [base.encode(q.image_id, records[q.image_id].image, q.question) for q in qas[:24]]
    answers = merged.generate(prompts, 8, batch_size=8)
    if distributed.is_main():
        Path(out).mkdir(parents=True, exist_ok=True)
        tuned.save(Path(out) / "tuned")
        save_file({k: v.contiguous() for k, v in inputs.items()}, f"{out}/probe.safetensors")
        Path(out, "run.json").write_text(json.dumps({
            "distributed": distributed.describe(), "share": share, "lora_share": lora_share, "sft": sft_losses,
            "npo": npo_losses, "lora": lora_losses, "logits": logits, "answers": answers}))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    finally:
        distributed.shutdown()
