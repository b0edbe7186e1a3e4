"""`pebench pretrain`: train the tiny base on the unlimited stream, checkpointed and resumable.

    build the tiny LLaVA (generic tokenizer)  ->  for each step: render a fresh batch, AdamW step
    (linear warmup + cosine)  ->  every `checkpoint_every` steps: weights + optimizer state
    (safetensors) + step  ->  every `eval_every` steps: Real / World probes  ->  the HF directory.

With `init` (a pretrained model directory, e.g. the shipped base) the run continues pretraining
from that model's weights and tokenizer instead of a random initialisation: the shipped base's
second stage taught the many phrasings of `pebench.data.phrasings` to the 18000-step base of
one phrasing per task; `pretrain.json` keeps the record of every stage.

A resumed run (`resume=True`) loads the last checkpoint and continues with the examples and the
learning rate an uninterrupted run would have used, so it ends with the same weights.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Callable

import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file

from pebench import __version__
from pebench.config import ModelConfig
from pebench.core.errors import PebenchError
from pebench.core.io import atomic_path, read_json
from pebench.data.corpus import generic_corpus
from pebench.models.adapter import VLM, Encoded
from pebench.models.builders import build_tiny_llava
from pebench.models.loading import load_vlm
from pebench.pretrain.probes import probe
from pebench.pretrain.tasks import RENDER_SIZE, Sample, make_batch
from pebench.train.loop import _lr_factor


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelConfig = ModelConfig(name="tiny-llava")  # the architecture the tiny-llava builder makes
    steps: int = Field(24000, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0, description="<= 1e-3: at 3e-3 the visual features collapse (pretrain-probe notes)")
    warmup: int = Field(300, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    seed: int = 0
    checkpoint_every: int = Field(500, ge=1)
    eval_every: int = Field(2000, ge=1)
    init: str | None = Field(None, description="a pretrained model directory to continue from (weights and tokenizer)")


class StreamEncoder:
    """Encodes fresh samples without the VLM's per-image caches (which would grow without end)."""

    def __init__(self, vlm: VLM):
        self.vlm = vlm
        self._prompts: dict[str, list[int]] = {}
        self._blank = Image.new("RGB", (RENDER_SIZE, RENDER_SIZE))

    def prompt_ids(self, question: str) -> list[int]:
        if question not in self._prompts:
            enc = self.vlm.processor(images=[self._blank], text=[self.vlm.prompt_text(question)], return_tensors="pt")
            self._prompts[question] = enc["input_ids"][0].tolist()
        return self._prompts[question]

    def encode(self, samples: list[Sample], with_answers: bool = True) -> list[Encoded]:
        pixels = self.vlm.processor.image_processor([s.image for s in samples], return_tensors="pt")["pixel_values"]
        out = []
        for i, s in enumerate(samples):
            prompt = self.prompt_ids(s.question)
            answer = self.vlm.answer_ids(s.question, s.answer) if with_answers else []
            out.append(Encoded(prompt + answer, [-100] * len(prompt) + answer, {"pixel_values": pixels[i : i + 1]}))
        return out


def _save_checkpoint(path: Path, vlm: VLM, opt: torch.optim.Optimizer, params: list, state: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.mkdir()
        save_file({k: v.contiguous() for k, v in vlm.model.state_dict().items()}, str(tmp / "model.safetensors"))
        tensors = {f"{i}.{name}": t for i, p in enumerate(params) for name, t in opt.state.get(p, {}).items()}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp / "optimizer.safetensors"))
        (tmp / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def _load_checkpoint(path: Path, vlm: VLM, opt: torch.optim.Optimizer, params: list) -> dict:
    vlm.model.load_state_dict(load_file(str(path / "model.safetensors")))
    for key, tensor in load_file(str(path / "optimizer.safetensors")).items():
        index, name = key.split(".", 1)
        opt.state[params[int(index)]][name] = tensor
    return read_json(path / "state.json")


def _earlier_stages(cfg: PretrainConfig) -> dict:
    """The record of the model `cfg.init` continues from (its pretrain.json, the stages before it)."""
    record = Path(cfg.init or "") / "pretrain.json"
    if not cfg.init or not record.is_file():
        return {}
    earlier = read_json(record)
    earlier.pop("history", None)
    weights = hashlib.sha256((Path(cfg.init) / "model.safetensors").read_bytes()).hexdigest()
    return {"init_sha256": weights, "earlier": earlier}


def check_out(out: Path, resume: bool) -> None:
    """Refuse to overwrite a pretraining run, or to resume where there is none."""
    ckpt = Path(out) / "checkpoint"
    if resume and not (ckpt / "state.json").is_file():
        raise PebenchError(f"nothing to resume: {ckpt} holds no checkpoint")
    if not resume and ckpt.exists():
        raise PebenchError(f"{out} already holds a pretraining run; pass --resume to continue it or choose another --out")


def pretrain(out: Path, cfg: PretrainConfig, resume: bool = False,
             on_step: Callable[[int, float], None] | None = None, log: Callable[[str], None] = print) -> Path:
    """Pretrain into `out` (checkpoints in `out/checkpoint`, the model in `out/model`); returns `out/model`."""
    out = Path(out)
    ckpt = out / "checkpoint"
    check_out(out, resume)
    out.mkdir(parents=True, exist_ok=True)
    vlm = load_vlm(cfg.init, dtype=torch.float32) if cfg.init else build_tiny_llava(cfg.model, generic_corpus(), cfg.seed)
    encoder = StreamEncoder(vlm)
    params = [p for p in vlm.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    state = {"step": 0, "config": cfg.model_dump(), "history": [], "probes": [], "wall_s": 0.0}
    if resume:
        state = _load_checkpoint(ckpt, vlm, opt, params)
        if state["config"] != cfg.model_dump():
            raise PebenchError("the checkpoint was made with another pretraining config; resume with the same one")
        log(f"resuming at step {state['step']}")
    torch.manual_seed(cfg.seed)
    vlm.model.train()
    started = time.perf_counter() - state["wall_s"]
    for step in range(state["step"], cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * _lr_factor(step, cfg.warmup, cfg.steps)
        batch = vlm.collate(encoder.encode(make_batch(cfg.seed, step, cfg.batch_size)))
        loss = vlm.nll(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        if on_step:
            on_step(step, float(loss.detach()))
        if step % 50 == 0:
            state["history"].append({"step": step, "loss": round(float(loss.detach()), 5)})
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            state["probes"].append({"step": done, **probe(vlm, encoder)})
            log(f"step {done}: {state['probes'][-1]}")
            vlm.model.train()
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            state.update(step=done, wall_s=round(time.perf_counter() - started, 1))
            _save_checkpoint(ckpt, vlm, opt, params, state)
    vlm.model.eval()
    vlm.save(out / "model")
    record = {"pebench_version": __version__, "config": cfg.model_dump(), "steps": state["step"],
              "wall_s": state["wall_s"], "hardware": {"machine": platform.machine(), "threads": torch.get_num_threads(),
                                                      "torch": torch.__version__},
              "history": state["history"], "probes": state["probes"], **_earlier_stages(cfg)}
    (out / "model" / "pretrain.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return out / "model"
