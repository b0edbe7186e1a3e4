"""The configs of the earlier stages (data and its Flux renderer, split, model and LoRA,
training) and of the LLM judge endpoint, on the strict base model; `pebench.config`
re-exports them and adds unlearning, evaluation, probes and the run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?|mps)$"
SEED_MAX = 2**32 - 1  # numpy's and torch's seeds are unsigned


class DiffusionConfig(_Strict):
    """The `flux` renderer: a local diffusers text-to-image pipeline with the paper's settings,
    and the identity check that regenerates images where a person is not recognisable."""

    model: str | None = Field(None, description="local diffusers pipeline directory (e.g. a FLUX.1-dev snapshot)")
    steps: int = Field(40, ge=1, description="num_inference_steps (paper: 40)")
    guidance: float = Field(2.5, ge=0, description="Flux distilled guidance (paper: 2.5)")
    true_gs: float = Field(3.5, ge=1, description="true classifier-free guidance with the negative prompt (paper: 3.5)")
    negative_prompt: str = "cartoon, drawing, blurry, deformed face, extra people, text, watermark"
    max_sequence_length: int = Field(512, ge=16, le=512, description="T5 prompt tokens")
    batch_size: int = Field(4, ge=1, description="images generated at once")
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    verify: bool = Field(True, description="check each person stays recognisable across events; regenerate outliers")
    verify_model: str | None = Field(None, description="local CLIP model directory for the identity check")
    verify_threshold: float = Field(0.8, ge=-1, le=1.01, description="min cosine similarity of an image's embedding "
                                                                   "to the mean of the person's other images")
    max_attempts: int = Field(3, ge=1, le=20, description="renders per image at most (first try included)")


class DataConfig(_Strict):
    """What `pebench data build` generates."""

    persons: int = Field(50, ge=2, le=3200, description="fictitious PEBench persons")
    events: int = Field(20, ge=2, le=40, description="events used, the first N of the paper's 40 (the next "
                                                     "`holdout_events` are never trained on)")
    renders_per_pair: int = Field(1, ge=1, le=16, description="images per (person, event) pair")
    image_size: int = Field(128, ge=32, le=1024, description="rendered image side in pixels")
    renderer: str = Field("procedural", description="procedural (CPU, default) | flux (diffusers, GPU) | any registered")
    diffusion: DiffusionConfig = DiffusionConfig()
    public_figures: int = Field(40, ge=1, le=40, description="identities the base knows (Real set), "
                                                             "the first N of pebench.data.identities")
    real_train_renders: int = Field(12, ge=1, description="foundation-training images per public figure")
    real_eval_renders: int = Field(3, ge=1, description="held-out images per public figure (Real set)")
    world_train_images: int = Field(400, ge=1, description="foundation-training object images")
    world_eval_images: int = Field(100, ge=1, description="held-out object images (World set)")
    max_objects: int = Field(2, ge=0, le=4, description="everyday objects per image, at most")
    holdout_persons: int = Field(20, ge=0, le=200, description="persons never trained on (membership-inference non-members)")
    holdout_events: int = Field(20, ge=0, le=20, description="events never trained on, after the used ones "
                                                            "(membership non-members; with 20 used: the paper's 40)")
    seed: int = Field(0, ge=0, le=SEED_MAX)

    @model_validator(mode="after")
    def _events_fit(self) -> "DataConfig":
        if self.events + self.holdout_events > 40:
            raise ValueError(f"events + holdout_events = {self.events + self.holdout_events} exceeds the paper's 40 events "
                             "(lower data.holdout_events)")
        return self


class SplitConfig(_Strict):
    """How forget targets and their images are chosen (SPEC §2)."""

    forget_fraction: float = Field(0.2, gt=0, lt=1, description="fraction of persons (and events) forgotten")
    event_forget_fraction: float | None = Field(0.5, gt=0, lt=1, description="fraction of events forgotten (10 of the "
                                                "default 20: as many targets as the person scenario's 10 persons); "
                                                "null: forget_fraction")
    test_fraction: float = Field(0.5, gt=0, lt=1, description="fraction of a target's images in D_f_test")

    @field_validator("forget_fraction", "event_forget_fraction", "test_fraction")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and v != v:  # NaN
            raise ValueError("must be a number")
        return v


class LoraConfig(_Strict):
    """LoRA adapters (peft) for fine-tuning and unlearning instead of training every weight.

    With LoRA, each unlearning method trains a fresh adapter on the Finetuned model and the
    reference model is the same model with the adapter disabled (no second copy in memory)."""

    enabled: bool = False
    r: int = Field(16, ge=1, le=1024, description="adapter rank")
    alpha: float = Field(32.0, gt=0, description="scaling numerator (scale = alpha / r)")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] | None = Field(
        None, description="module names or one regex; unset: the model family's default, the language model's "
                          "attention and MLP projections (vision tower and projector frozen)")
    save_merged: bool = Field(False, description="also save each unlearned model with its adapter merged "
                                                 "(full HF model; adapters are always saved)")


class ModelConfig(_Strict):
    """Which model: a registered builder (`tiny-llava`, ...) or a local Hugging Face directory."""

    name: str = Field("tiny-base", description="a registered builder: tiny-base (the shipped pretrained base), "
                                                "tiny-llava (from scratch), ...")
    path: str | None = Field(None, description="local HF model directory; overrides `name`")
    trust_remote_code: bool = Field(False, description="run model code shipped with the checkpoint (only if you trust it)")
    allow_pickle: bool = Field(False, description="accept pickle (.bin/.pt) weights; only for checkpoints you trust")
    device: str = Field("auto", pattern=DEVICE_PATTERN,
                        description="auto = this process's accelerator (cuda:<local rank> under accelerate), else cpu")
    dtype: Literal["float32", "bfloat16", "float16"] = Field("float32", description="weights and compute dtype")
    gradient_checkpointing: bool = Field(False, description="recompute activations in backward (saves memory)")
    lora: LoraConfig = LoraConfig()
    # The architecture of a builder's model (the embedded ones; a checkpoint brings its own).
    image_size: int = Field(64, ge=8, le=1024)
    patch_size: int = Field(8, ge=1, le=64)
    vision_hidden: int = Field(64, ge=4, le=8192)
    vision_layers: int = Field(2, ge=1, le=128)
    text_hidden: int = Field(128, ge=4, le=16384)
    text_layers: int = Field(2, ge=1, le=256)
    heads: int = Field(4, ge=1, le=256)
    vocab_size: int = Field(1024, ge=300, le=1_000_000)

    @model_validator(mode="after")
    def _architecture(self) -> "ModelConfig":
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size {self.image_size} must be a multiple of patch_size {self.patch_size}")
        if self.vision_hidden % self.heads or self.text_hidden % self.heads:
            raise ValueError(f"vision_hidden and text_hidden must be multiples of heads ({self.heads})")
        return self


class TrainConfig(_Strict):
    """A supervised training stage (foundation or fine-tuning)."""

    steps: int = Field(1000, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)
    warmup: int = Field(30, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    replay_fraction: float = Field(0.2, ge=0, lt=1, description="share of each batch replayed from foundation data")
    profile_fraction: float = Field(0.0, ge=0, lt=1, description="fine-tunes: share of each batch drawn from the profile "
                                    "questions (job, birthplace), half asked with the image, half by name without one")
    phrasings: int = Field(1, ge=1, le=32, description="fine-tunes of a pretrained model: each question encoded in this "
                           "many phrasings drawn from its pool (pebench.data.phrasings), the same draws every run")

    @model_validator(mode="after")
    def _shares(self) -> "TrainConfig":
        if self.replay_fraction + self.profile_fraction >= 1:
            raise ValueError("replay_fraction + profile_fraction must leave part of each batch to the PEBench questions")
        return self


class GoalConfig(_Strict):
    """How long the Goal model (the foundation fine-tuned on D_r only) trains.

    `finetuned`: as many optimizer steps as the Finetuned model, with its batch size and
    schedule, so it fits D_r as closely as the Finetuned model does (each retained image is
    seen |images| / |D_r| times as often, as a model retrained to convergence on less data is).
    `epochs`: the Finetuned model's passes over each retained image (steps scaled by
    |D_r| / |images|), which leaves the tiny default's Goal short of that fit."""

    budget: Literal["finetuned", "epochs"] = Field("finetuned", description="finetuned: the Finetuned model's steps "
                                                   "(its fit on D_r, the default); epochs: its passes over each image "
                                                   "(fewer steps on D_r; measured worse, docs/limitations.md)")


class LLMJudgeConfig(_Strict):
    """An OpenAI-compatible chat endpoint used as a G-Eval style judge (`eval.judge: llm`).

    The API key is read from the environment variable named by `api_key_env` at call time;
    it is never part of the config, the results or the logs.
    """

    url: str = Field("http://localhost:8000/v1", description="base URL; /chat/completions is appended")
    model: str = Field("Qwen/Qwen2.5-7B-Instruct", description="model name sent to the endpoint")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key (may be unset)")
    concurrency: int = Field(4, ge=1, le=64, description="requests in flight at once")
    retries: int = Field(3, ge=0, le=10, description="retries per request after the first try")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles on each retry")
    timeout_s: float = Field(60.0, gt=0, description="per-request timeout")

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")
