"""The stages before any split: the dataset (built into the stage store, or given with --data)
and the foundation model every fine-tune starts from, with what fine-tunes replay of it.
`Pipeline` mixes this in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pebench import distributed, stage_keys
from pebench.data.build import build_dataset, load_dataset_dir, planned_images
from pebench.data.corpus import text_corpus
from pebench.data.qa import foundation_qas
from pebench.environment import compute_environment, provenance
from pebench.eval.judges import make_judge
from pebench.fingerprint import component_hash
from pebench.io import dir_fingerprint, link, read_json
from pebench.methods.finetune import Finetune
from pebench.models import VLM, build_model
from pebench.models.builders import starts_pretrained
from pebench.models.shipped import base_fingerprint
from pebench.pretrain.tasks import replay_samples
from pebench.progress import progress_callback
from pebench.run_support import Encoder
from pebench.train import Stream

REPLAY_POOL = 2048  # pretraining examples replayed by fine-tunes of the shipped base


class FoundationStages:
    """Data and foundation (a mixin of `Pipeline`)."""

    cfg: Any

    def load_data(self) -> None:
        """The dataset (built once per data config and data code into the stage store and linked
        from the run directory, or built there without a store; or the one given with --data),
        its content key, and the event judge."""
        if self.data_dir is None:
            self.data_dir = self.out / "dataset"
            key = stage_keys.dataset_key(self.cfg)
            home = self.store.dataset_dir(key) or self.data_dir
            with self.store.lock(key):
                if distributed.from_main(lambda: self.fresh or not self._current(home)):
                    self.store.remove_temporaries(key)
                    with self.rep.task("render dataset", planned_images(self.cfg.data), "img") as task:
                        self._timed("data", lambda: build_dataset(self.cfg.data, home, progress_callback(task)))
            if home != self.data_dir:
                distributed.from_main(lambda: link(self.data_dir, home))
            if self.main:
                self.store.touch(key, self.data_dir)
        self.data = self._preloaded or self._timed("data load", lambda: load_dataset_dir(self.data_dir))
        # A dataset built here is described by its build.json (config, data-code hash, counts); one
        # given with --data may have been edited in place, so its files are fingerprinted too.
        self.data_key = stage_keys.data_key(self.data.build, dir_fingerprint(self.data_dir) if self._external_data else None)
        self.judge = make_judge(self.eval_cfg.judge, self.eval_cfg, self.out / "judge-cache")

    def _current(self, dataset: Path) -> bool:
        """Whether `dataset` was built from this data config by this data code."""
        build = dataset / "build.json"
        stored = read_json(build) if build.is_file() else {}
        return stored.get("config") == self.cfg.data.model_dump() and stored.get("code") == component_hash("data")

    def foundation(self) -> VLM:
        """The model every fine-tune starts from: the shipped pretrained base (default), a local
        checkpoint (`model.path`), or a builder's model trained here on the foundation data."""
        cfg = self.cfg
        # Every fine-tune's, evaluation's and probe's key chains from this one (data, seed, environment).
        device = distributed.device(cfg.model.device)
        self.environment = compute_environment(device, cfg.model.dtype)
        self.provenance = provenance(device, cfg.model.dtype)
        if starts_pretrained(cfg.model):
            vlm = build_model(cfg.model, [], cfg.seed)
            self.foundation_key = stage_keys.foundation_key(cfg, self.data_key, base_fingerprint(cfg.model), self.environment)
        else:
            self.foundation_key = stage_keys.foundation_key(cfg, self.data_key, None, self.environment)
            vlm = self._stage_model("foundation", self.foundation_key, lambda: self._train_foundation())
        self.encoder = Encoder(vlm, self.data)
        self.foundation_examples = self._replay_examples(vlm)
        return vlm

    def _train_foundation(self) -> VLM:
        cfg = self.cfg
        vlm = build_model(cfg.model, text_corpus(self.data), cfg.seed)
        examples = Encoder(vlm, self.data).examples(foundation_qas(self.data, cfg.seed))
        streams = {"train": Stream([(examples, cfg.foundation.batch_size)], vlm.collate, f"foundation:{cfg.seed}")}
        self._train("foundation", vlm, Finetune(), streams, cfg.foundation.model_dump(), None, cfg.seed)
        return vlm

    def _replay_examples(self, vlm: VLM) -> list[dict]:
        """What fine-tuning replays (`finetune.replay_fraction` of each batch) so the base keeps its
        Real and World knowledge: the shipped base's own pretraining tasks, a builder's foundation
        data, and for a loaded checkpoint nothing unless `finetune.replay_fraction` is set."""
        cfg = self.cfg
        if cfg.model.path is None and cfg.model.name == "tiny-base":
            return [{"answer": vlm.encode(f"replay-{i}", s.image, s.question, s.answer)}
                    for i, s in enumerate(replay_samples(REPLAY_POOL, cfg.seed))]
        if cfg.model.path and "replay_fraction" not in cfg.finetune.model_fields_set:
            return []
        return self.encoder.examples(foundation_qas(self.data, cfg.seed))
