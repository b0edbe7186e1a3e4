"""The stages before any split: the dataset (built into the stage store, or given with --data)
and the foundation model every fine-tune starts from, with what fine-tunes replay of it. Each
returns its product (`Dataset`, `Base`) for the recipe to record in the run's context."""

from __future__ import annotations

from pathlib import Path

from pebench.core import distributed
from pebench.core.environment import compute_environment
from pebench.core.fingerprint import component_hash
from pebench.core.io import dir_fingerprint, link, read_json
from pebench.core.progress import progress_callback
from pebench.data.build import PebenchData, build_dataset, load_dataset_dir, planned_images
from pebench.data.corpus import text_corpus
from pebench.data.qa import foundation_qas
from pebench.eval.judges import make_judge
from pebench.methods.finetune import Finetune
from pebench.models import VLM, build_model
from pebench.models.builders import starts_pretrained
from pebench.models.shipped import base_fingerprint
from pebench.pretrain.tasks import replay_samples
from pebench.recipe import keys
from pebench.recipe.context import Base, Dataset, RunContext
from pebench.recipe.stage_io import StageIO
from pebench.recipe.support import Encoder
from pebench.recipe.training import TrainingStages
from pebench.train import Stream

REPLAY_POOL = 2048  # pretraining examples replayed by fine-tunes of the shipped base


class FoundationStages:
    """Data and foundation of one run."""

    def __init__(self, ctx: RunContext, io: StageIO, training: TrainingStages):
        self.ctx, self.io, self.training = ctx, io, training

    def load_data(self, data_dir: Path | None, preloaded: PebenchData | None = None) -> Dataset:
        """The dataset (built once per data config and data code into the stage store and linked
        from the run directory, or built there without a store; or the one given with --data as
        `data_dir`, already loaded as `preloaded`), its content key, and the event judge."""
        ctx = self.ctx
        external = data_dir is not None
        if data_dir is None:
            data_dir = ctx.out / "dataset"
            key = keys.dataset_key(ctx.cfg)
            home = ctx.store.dataset_dir(key) or data_dir
            with ctx.store.lock(key):
                if distributed.from_main(lambda: ctx.fresh or not self._current(home)):
                    ctx.store.remove_temporaries(key)
                    with ctx.rep.task("render dataset", planned_images(ctx.cfg.data), "img") as task:
                        ctx.timed("data", lambda: build_dataset(ctx.cfg.data, home, progress_callback(task)))
            if home != data_dir:
                distributed.from_main(lambda: link(data_dir, home))
            if ctx.main:
                ctx.store.touch(key, data_dir)
        data = preloaded or ctx.timed("data load", lambda: load_dataset_dir(data_dir))
        # A dataset built here is described by its build.json (config, data-code hash, counts); one
        # given with --data may have been edited in place, so its files are fingerprinted too.
        data_key = keys.data_key(data.build, dir_fingerprint(data_dir) if external else None)
        return Dataset(data, data_dir, data_key, make_judge(ctx.eval_cfg.judge, ctx.eval_cfg, ctx.out / "judge-cache"))

    def _current(self, dataset: Path) -> bool:
        """Whether `dataset` was built from this data config by this data code."""
        build = dataset / "build.json"
        stored = read_json(build) if build.is_file() else {}
        return stored.get("config") == self.ctx.cfg.data.model_dump() and stored.get("code") == component_hash("data")

    def foundation(self) -> Base:
        """The model every fine-tune starts from: the shipped pretrained base (default), a local
        checkpoint (`model.path`), or a builder's model trained here on the foundation data."""
        cfg, data = self.ctx.cfg, self.ctx.dataset
        # Every fine-tune's, evaluation's and probe's key chains from this one (data, seed, environment).
        environment = compute_environment(distributed.device(cfg.model.device), cfg.model.dtype)
        if starts_pretrained(cfg.model):
            vlm = build_model(cfg.model, [], cfg.seed)
            key = keys.foundation_key(cfg, data.key, base_fingerprint(cfg.model), environment)
        else:
            key = keys.foundation_key(cfg, data.key, None, environment)
            vlm = self.io.stage_model("foundation", key, lambda: self._train_foundation())
        encoder = Encoder(vlm, data.data)
        return Base(vlm, key, encoder, self.replay_examples(vlm, encoder))

    def _train_foundation(self) -> VLM:
        cfg, data = self.ctx.cfg, self.ctx.data
        vlm = build_model(cfg.model, text_corpus(data), cfg.seed)
        examples = Encoder(vlm, data).examples(foundation_qas(data, cfg.seed))
        streams = {"train": Stream([(examples, cfg.foundation.batch_size)], vlm.collate, f"foundation:{cfg.seed}")}
        self.training.fit("foundation", vlm, Finetune(), streams, cfg.foundation.model_dump(), None, cfg.seed)
        return vlm

    def replay_examples(self, vlm: VLM, encoder: Encoder) -> list[dict]:
        """What fine-tuning replays (`finetune.replay_fraction` of each batch) so the base keeps its
        Real and World knowledge: the shipped base's own pretraining tasks, a builder's foundation
        data, and for a loaded checkpoint nothing unless `finetune.replay_fraction` is set."""
        cfg = self.ctx.cfg
        if cfg.model.path is None and cfg.model.name == "tiny-base":
            return [{"answer": vlm.encode(f"replay-{i}", s.image, s.question, s.answer)}
                    for i, s in enumerate(replay_samples(REPLAY_POOL, cfg.seed))]
        if cfg.model.path and "replay_fraction" not in cfg.finetune.model_fields_set:
            return []
        return encoder.examples(foundation_qas(encoder.data, cfg.seed))
