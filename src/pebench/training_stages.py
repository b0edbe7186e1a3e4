"""The training stages of `pebench run`: the supervised fine-tunes (Finetuned, Goal) and the
unlearning runs. `Pipeline` mixes these in; they use its config, encoder, reporter, stage store
and model lifecycle (`pebench.models.lifecycle`: full copies or LoRA adapters)."""

from __future__ import annotations

from typing import Any, Callable

from pebench import stage_keys
from pebench.config import TrainConfig
from pebench.data.qa import pebench_qas, profile_qas
from pebench.methods import make_method
from pebench.methods.base import METHODS, Method
from pebench.methods.finetune import Finetune
from pebench.methods.overrides import method_settings
from pebench.models import VLM
from pebench.models.lifecycle import FullCopies, Sharded
from pebench.progress import log
from pebench.splits import Split, forget_qas
from pebench.train import Stream, train


def seeded_params(name: str, params: dict, seed: int) -> dict:
    """`params` with the method's own `seed` hyperparameter (RMU's random direction) set to the
    split seed, so that it follows `--seeds`, unless the config sets it."""
    return {"seed": seed, **params} if "seed" in METHODS.get(name).defaults else dict(params)


class TrainingStages:
    """Fine-tuning and unlearning stages (a mixin of `Pipeline`)."""

    cfg: Any
    training: dict[str, Any]
    lifecycle: FullCopies | Sharded

    def _train(self, label: str, vlm: VLM, method: Method, streams: dict[str, Stream], tc: dict, ref: VLM | None,
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

        checkpointing = self.cfg.model.gradient_checkpointing
        if checkpointing:
            vlm.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            self.lifecycle.prepare_checkpointing(vlm)
        try:
            with self.rep.task(f"train {label}", tc["steps"], "step") as task:
                result = train(vlm.model, lambda b: method.loss(vlm, b, ref), streams, steps=tc["steps"],
                               lr=tc["lr"], warmup=tc.get("warmup", 0), weight_decay=tc.get("weight_decay", 0.0),
                               grad_clip=tc["grad_clip"], seed=seed, on_step=lambda s, logs: on_step(s, logs, task),
                               log_every=max(1, tc["steps"] // 100))
        finally:
            if checkpointing:
                vlm.model.gradient_checkpointing_disable()
        self.training[label] = {"final": result.history[-1], "history": result.history,
                                **({"trajectory": trajectory} if checkpoint else {})}

    def _sft_streams(self, image_ids: list[str], tc: TrainConfig, seed: str) -> dict[str, Stream]:
        """Each batch: the PEBench questions of `image_ids`, `replay_fraction` replayed foundation
        data and `profile_fraction` profile questions (half with the image, half by name)."""
        replay = round(tc.batch_size * tc.replay_fraction) if self.foundation_examples else 0
        profile = round(tc.batch_size * tc.profile_fraction / 2)
        parts = [(self.encoder.examples(pebench_qas(self.data, image_ids)), tc.batch_size - replay - 2 * profile),
                 (self.foundation_examples, replay)]
        if profile:  # after the others: without profile questions the stream is drawn as before
            parts += [(self.encoder.examples(profile_qas(self.data, image_ids, route)), profile) for route in ("image", "text")]
        return {"train": Stream(parts, self.encoder.vlm.collate, seed)}

    def _sft_model(self, name: str, base: VLM, image_ids: list[str], key: str) -> VLM:
        tc = self.cfg.finetune

        def make() -> VLM:
            vlm = self.lifecycle.trainable(base, f"{name}:{self.cfg.seed}")
            self._train(name, vlm, Finetune(), self._sft_streams(image_ids, tc, f"{name}:{self.cfg.seed}"),
                        tc.model_dump(), None, self.cfg.seed)
            return self.lifecycle.trained(vlm)

        return self._stage_model(name, key, make, base)

    def finetuned(self, foundation: VLM) -> VLM:
        ids = sorted(r.image_id for r in self.data.of_kind("pebench"))
        self.finetuned_key = stage_keys.finetuned_key(self.cfg, self.foundation_key)
        return self._sft_model("finetuned", foundation, ids, self.finetuned_key)

    def goal(self, foundation: VLM, split: Split) -> tuple[VLM, str]:
        key = stage_keys.goal_key(self.cfg, self.foundation_key, split)
        name = f"goal-{split.scenario}" + ("" if split.seed == self.cfg.seed else f"-seed{split.seed}")
        return self._sft_model(name, foundation, sorted(split.retain), key), key

    def retain_examples(self, split: Split) -> list[dict]:
        """Encoded D_r QAs of `split`, built once and shared by every method of the split."""
        if split.retain not in self._retain_cache:
            self._retain_cache[split.retain] = self.encoder.examples(pebench_qas(self.data, sorted(split.retain)))
        return self._retain_cache[split.retain]

    def forget_facts(self, split: Split) -> list:
        """The forget persons' profile questions by name (no image): what SIU keeps."""
        persons = set(split.forget_persons)
        return profile_qas(self.data, [r.image_id for r in self.data.of_kind("pebench") if r.person_id in persons], "text")

    def method_settings(self, name: str) -> tuple[dict, dict]:
        """(training settings, hyperparameter overrides) of method `name` after config overrides."""
        return method_settings(self.cfg.unlearn, name)

    def unlearn(self, name: str, finetuned: VLM, split: Split, checkpoint: Callable[[VLM], dict] | None = None,
                every: int = 0, tag: str | None = None) -> VLM:
        """Unlearn `name` from `finetuned` (the Finetuned model, or an earlier request's model);
        `checkpoint(model)` every `every` steps (see `_train`); `tag` names the run (default: the split's)."""
        tc, override = self.method_settings(name)
        tag = tag or split.scenario
        method = make_method(name, seeded_params(name, override, split.seed))
        seed = f"{tag}:{name}:{split.seed}"
        vlm = self.lifecycle.trainable(finetuned, seed)
        ref = self.lifecycle.reference(vlm, finetuned) if method.needs_reference else None
        groups = {c: self.encoder.examples(qas, refusal=True, extra=method.extra_views)
                  for c, qas in forget_qas(self.data, split, method.single_image).items()}
        if method.balance_concepts:
            share = max(1, tc["batch_size"] // len(groups))
            streams = {f"forget_{c}": Stream([(ex, share)], vlm.collate, f"forget_{c}:{seed}") for c, ex in groups.items()}
        else:
            mixed = [ex for c in sorted(groups) for ex in groups[c]]
            streams = {"forget": Stream([(mixed, tc["batch_size"])], vlm.collate, "forget:" + seed)}
        if method.uses_retain:
            streams["retain"] = Stream([(self.retain_examples(split), tc["batch_size"])], vlm.collate, "retain:" + seed)
        facts = self.forget_facts(split) if method.keeps_facts else []
        if facts:
            streams["facts"] = Stream([(self.encoder.examples(facts), tc["batch_size"])], vlm.collate, "facts:" + seed)
        label = f"{self._tag(split) if tag == split.scenario else tag}/{name}"
        hook = (lambda: self._checkpoint(checkpoint, vlm)) if checkpoint and every else None
        self._timed(f"unlearn {label}", lambda: self._train(label, vlm, method, streams, tc, ref, split.seed, hook, every))
        return self.lifecycle.trained(vlm)

    def _checkpoint(self, checkpoint: Callable[[VLM], dict], vlm: VLM) -> dict:
        with self.lifecycle.snapshot(vlm) as whole:
            return checkpoint(whole)

    def _release_unlearned(self, vlm: VLM, split: Split, name: str) -> None:
        """Done with an evaluated method's model (under LoRA: its adapter saved under
        models/<tag>/<method> by the main process, with a model card, and taken off the Finetuned model)."""
        tag = self._tag(split)
        card = {"method": name, "scenario": tag, "forget": split.forget_names(self.data)}
        self.lifecycle.release(vlm, self.out / "models" / tag / name if self.main else None, card)
