"""The training stages of `pebench run`: the supervised fine-tunes (Finetuned, Goal) and the
unlearning runs. They read the run's context (config, dataset, base, reporter) and store their
models through `StageIO` and the run's model lifecycle (`pebench.models.lifecycle`: full copies
or LoRA adapters)."""

from __future__ import annotations

from typing import Callable

from pebench.config import RunConfig, TrainConfig
from pebench.core import distributed
from pebench.core.errors import PebenchError
from pebench.core.progress import log
from pebench.data.qa import pebench_qas, phrase_qas, profile_qas
from pebench.methods import make_method
from pebench.methods.base import METHODS, Method
from pebench.methods.finetune import Finetune
from pebench.methods.overrides import check_overrides, method_settings
from pebench.models import VLM
from pebench.models.builders import starts_pretrained
from pebench.models.lifecycle import method_lifecycle
from pebench.recipe import keys
from pebench.recipe.context import RunContext
from pebench.recipe.stage_io import StageIO
from pebench.splits import Split, forget_qas
from pebench.train import Stream, train


def seeded_params(name: str, params: dict, seed: int) -> dict:
    """`params` with the method's own `seed` hyperparameter (RMU's random direction) set to the
    split seed, so that it follows `--seeds`, unless the config sets it."""
    return {"seed": seed, **params} if "seed" in METHODS.get(name).defaults else dict(params)


def goal_settings(finetune: TrainConfig, split: Split, images: int, budget: str = "finetuned") -> TrainConfig:
    """The Goal's training settings: the Finetuned model's (`finetune`, over `images` PEBench
    images). With `budget` "finetuned" they are used as they are: as many steps as the Finetuned
    model, so that the Goal fits D_r as the Finetuned model does, as a model retrained to
    convergence on the retained data would (TOFU's retain model is trained with the full model's
    recipe). With "epochs" the steps are scaled to D_r, steps · |D_r| / images, so that the Goal
    passes over each retained image as often as the Finetuned model does; on the tiny default that
    leaves it short of the Finetuned model's fit on D_r (a Goal that cannot name the retained
    persons it trained on)."""
    if budget == "finetuned":
        return finetune
    return finetune.model_copy(update={"steps": max(1, round(finetune.steps * len(split.retain) / images))})


def check_methods(cfg: RunConfig) -> None:
    """Refuse, before any work or write, a bad override (NPO.bta, lr: -1) or a method that cannot
    run in this configuration, naming the way that works (distributed.init() must have run)."""
    check_overrides(cfg.unlearn.overrides)
    for name in dict.fromkeys(cfg.methods + cfg.probes.sequential_methods):
        make_method(name, method_settings(cfg.unlearn, name)[1])
        method = METHODS.get(name)
        if cfg.model.lora.enabled and not method.supports_lora and method.trains:
            raise PebenchError(f"method {name} edits weights in a way a LoRA adapter cannot hold; drop it from "
                               "`methods` or run without LoRA (model.lora.enabled: false)")
        sequential = cfg.probes.sequential and "both" in cfg.scenarios and name in (cfg.probes.sequential_methods or cfg.methods)
        if cfg.model.lora.enabled and not method.supports_lora and sequential:
            raise PebenchError(f"method {name} runs on a full copy under LoRA, which the sequential requests' adapters "
                               f"cannot build on; drop it from `probes.sequential_methods` or run without LoRA")
        if distributed.strategy() == "fsdp" and not METHODS.get(name).supports_sharding:
            raise PebenchError(f"method {name} needs whole gradients or activations; run it in one process or under DDP, not FSDP")


class TrainingStages:
    """Fine-tuning and unlearning stages of one run."""

    def __init__(self, ctx: RunContext, io: StageIO):
        self.ctx, self.io = ctx, io
        self._retain_cache: dict[tuple[str, ...], list[dict]] = {}

    def fit(self, label: str, vlm: VLM, method: Method, streams: dict[str, Stream], tc: dict, ref: VLM | None,
            seed: int, checkpoint: Callable[[], dict] | None = None, every: int = 0) -> None:
        """Train `vlm`; with `checkpoint`, call it every `every` steps and after the last one and
        keep its results (step-numbered) as the run's trajectory."""
        trajectory: list[dict] = []

        def on_step(step: int, logs: dict[str, float], task) -> None:
            task.advance()
            if checkpoint and ((step + 1) % every == 0 or step == tc["steps"] - 1):
                trajectory.append({"step": step + 1, **checkpoint()})
            if step % 100 == 0 or step == tc["steps"] - 1:
                log.info("%s step %d/%d %s", label, step + 1, tc["steps"],
                         " ".join(f"{k}={v:.4g}" for k, v in logs.items()))

        checkpointing = self.ctx.cfg.model.gradient_checkpointing
        if checkpointing:
            vlm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.ctx.lifecycle.prepare_checkpointing(vlm)
        try:
            with self.ctx.rep.task(f"train {label}", tc["steps"], "step") as task:
                result = train(vlm.model, lambda b: method.loss(vlm, b, ref), streams, steps=tc["steps"],
                               lr=tc["lr"], warmup=tc.get("warmup", 0), weight_decay=tc.get("weight_decay", 0.0),
                               grad_clip=tc["grad_clip"], seed=seed, on_step=lambda s, logs: on_step(s, logs, task),
                               log_every=max(1, tc["steps"] // 100),
                               after_backward=(lambda b: method.on_gradients(vlm, b, ref)) if method.edits_gradients() else None)
        finally:
            if checkpointing:
                vlm.model.gradient_checkpointing_disable()
        self.ctx.training[label] = {"final": result.history[-1], "history": result.history,
                                    **({"trajectory": trajectory} if checkpoint else {})}

    def _sft_streams(self, image_ids: list[str], tc: TrainConfig, seed: str) -> dict[str, Stream]:
        """Each batch: the PEBench questions of `image_ids`, `replay_fraction` replayed foundation
        data and `profile_fraction` profile questions (half with the image, half by name), each
        question in `tc.phrasings` of its phrasings (`phrase_qas`) when the model arrives pretrained."""
        replay = round(tc.batch_size * tc.replay_fraction) if self.ctx.base.replay else 0
        profile = round(tc.batch_size * tc.profile_fraction / 2)
        data, encode = self.ctx.data, self.ctx.encoder.examples
        parts = [(encode(self._reword(pebench_qas(data, image_ids), tc.phrasings)), tc.batch_size - replay - 2 * profile),
                 (self.ctx.base.replay, replay)]
        if profile:  # after the others: without profile questions the stream is drawn as before
            parts += [(encode(self._reword(profile_qas(data, image_ids, route), tc.phrasings)), profile)
                      for route in ("image", "text")]
        return {"train": Stream(parts, self.ctx.encoder.vlm.collate, seed)}

    def _reword(self, qas: list, phrasings: int) -> list:
        """Fine-tuning questions in several phrasings for a pretrained model (the shipped base
        learnt the pools; a real MLLM reads any wording); canonical for a model built from a
        config, whose foundation stage taught one phrasing per task."""
        if not starts_pretrained(self.ctx.cfg.model):
            return qas
        return phrase_qas(self.ctx.data, qas, phrasings)

    def _sft_model(self, name: str, base: VLM, image_ids: list[str], key: str, tc: TrainConfig) -> VLM:
        def make() -> VLM:
            vlm = self.ctx.lifecycle.trainable(base, f"{name}:{self.ctx.cfg.seed}")
            self.fit(name, vlm, Finetune(), self._sft_streams(image_ids, tc, f"{name}:{self.ctx.cfg.seed}"),
                        tc.model_dump(), None, self.ctx.cfg.seed)
            return self.ctx.lifecycle.trained(vlm)

        return self.io.stage_model(name, key, make, base)

    def finetuned(self, foundation: VLM) -> tuple[VLM, str]:
        """The Finetuned model (the base fine-tuned on all PEBench data) and its key."""
        ids = sorted(r.image_id for r in self.ctx.data.of_kind("pebench"))
        key = keys.finetuned_key(self.ctx.cfg, self.ctx.base.key)
        return self._sft_model("finetuned", foundation, ids, key, self.ctx.cfg.finetune), key

    def goal_settings(self, split: Split) -> TrainConfig:
        return goal_settings(self.ctx.cfg.finetune, split, len(self.ctx.data.of_kind("pebench")), self.ctx.cfg.goal.budget)

    def goal_key(self, split: Split) -> str:
        return keys.goal_key(self.goal_settings(split), self.ctx.base.key, split)

    def goal(self, foundation: VLM, split: Split) -> tuple[VLM, str]:
        key = self.goal_key(split)
        name = f"goal-{split.scenario}" + ("" if split.seed == self.ctx.cfg.seed else f"-seed{split.seed}")
        return self._sft_model(name, foundation, sorted(split.retain), key, self.goal_settings(split)), key

    def retain_examples(self, split: Split) -> list[dict]:
        """Encoded D_r QAs of `split`, built once and shared by every method of the split."""
        if split.retain not in self._retain_cache:
            self._retain_cache[split.retain] = self.ctx.encoder.examples(pebench_qas(self.ctx.data, sorted(split.retain)))
        return self._retain_cache[split.retain]

    def forget_facts(self, split: Split) -> list:
        """The forget persons' profile questions by name (no image): what SIU keeps."""
        persons = set(split.forget_persons)
        return profile_qas(self.ctx.data, [r.image_id for r in self.ctx.data.of_kind("pebench") if r.person_id in persons], "text")

    def method_settings(self, name: str) -> tuple[dict, dict]:
        """(training settings, hyperparameter overrides) of method `name` after config overrides."""
        return method_settings(self.ctx.cfg.unlearn, name)

    def unlearn(self, name: str, finetuned: VLM, split: Split, checkpoint: Callable[[VLM], dict] | None = None,
                every: int = 0, tag: str | None = None) -> VLM:
        """Unlearn `name` from `finetuned` (the Finetuned model, or an earlier request's model);
        `checkpoint(model)` every `every` steps (see `_train`); `tag` names the run (default: the split's)."""
        tc, override = self.method_settings(name)
        tag = tag or split.scenario
        method = make_method(name, seeded_params(name, override, split.seed))
        seed = f"{tag}:{name}:{split.seed}"
        lifecycle = self.lifecycle(name)
        vlm = lifecycle.trainable(finetuned, seed)
        ref = lifecycle.reference(vlm, finetuned) if method.needs_reference else None
        streams = self._unlearning_streams(method, split, tc["batch_size"], vlm, seed)
        label = f"{self.ctx.tag(split) if tag == split.scenario else tag}/{name}"
        hook = (lambda: self._checkpoint(checkpoint, vlm)) if checkpoint and every else None
        self.ctx.timed(f"unlearn {label}", lambda: self._unlearn(label, vlm, method, streams, tc, ref, split, hook, every, seed))
        return lifecycle.trained(vlm)

    def lifecycle(self, name: str):
        """How method `name`'s model is made and kept: the run's lifecycle, or under LoRA for a
        method an adapter cannot hold (MANU), a pruned full copy (`models.lifecycle.PrunedCopies`)."""
        return method_lifecycle(self.ctx.lifecycle, self.ctx.cfg.model, METHODS.get(name).supports_lora)

    def _unlearning_streams(self, method: Method, split: Split, batch_size: int, vlm: VLM, seed: str) -> dict[str, Stream]:
        """The batches a method trains on: its forget views (one mixed stream, or one per concept
        for a balancing method), D_r unless it ignores it, and the forget persons' facts."""
        groups = {c: self.ctx.encoder.examples(qas, refusal=True, extra=method.extra_views)
                  for c, qas in forget_qas(self.ctx.data, split, method.single_image).items()}
        if method.balance_concepts:
            share = max(1, batch_size // len(groups))
            streams = {f"forget_{c}": Stream([(ex, share)], vlm.collate, f"forget_{c}:{seed}") for c, ex in groups.items()}
        else:
            mixed = [ex for c in sorted(groups) for ex in groups[c]]
            streams = {"forget": Stream([(mixed, batch_size)], vlm.collate, "forget:" + seed)}
        if method.uses_retain:
            streams["retain"] = Stream([(self.retain_examples(split), batch_size)], vlm.collate, "retain:" + seed)
        facts = self.forget_facts(split) if method.keeps_facts else []
        if facts:
            streams["facts"] = Stream([(self.ctx.encoder.examples(facts), batch_size)], vlm.collate, "facts:" + seed)
        return streams

    def _unlearn(self, label: str, vlm: VLM, method: Method, streams: dict[str, Stream], tc: dict, ref: VLM | None,
                 split: Split, hook: Callable[[], dict] | None, every: int, seed: str) -> None:
        """The method's `prepare` (on streams of its own: the steps draw the same batches as
        without it), then its steps unless it takes none."""
        prepared: dict[str, float] = {}
        if type(method).prepare is not Method.prepare:
            own = self._unlearning_streams(method, split, tc["batch_size"], vlm, "prepare:" + seed)
            prepared = method.prepare(vlm, lambda: {name: next(s) for name, s in own.items()}, ref)
            log.info("%s prepared: %s", label, " ".join(f"{k}={v:.4g}" for k, v in prepared.items()))
        if not method.trains:
            self.ctx.training[label] = {"final": {"step": 0, **prepared}, "history": [{"step": 0, **prepared}]}
            return
        self.fit(label, vlm, method, streams, tc, ref, split.seed, hook, every)
        if prepared:
            self.ctx.training[label]["prepared"] = prepared

    def _checkpoint(self, checkpoint: Callable[[VLM], dict], vlm: VLM) -> dict:
        with self.ctx.lifecycle.snapshot(vlm) as whole:
            return checkpoint(whole)

    def release_unlearned(self, vlm: VLM, split: Split, name: str) -> None:
        """Done with an evaluated method's model (under LoRA: its adapter saved under
        models/<tag>/<method> by the main process, with a model card, and taken off the Finetuned model)."""
        tag = self.ctx.tag(split)
        card = {"method": name, "scenario": tag, "forget": split.forget_names(self.ctx.data)}
        self.lifecycle(name).release(vlm, self.ctx.out / "models" / tag / name if self.ctx.main else None, card)
