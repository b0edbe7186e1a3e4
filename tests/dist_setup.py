"""What the scripts run under a launch (dist_check.py, fsdp_check.py) share: join the process
group, then a tiny LLaVA and the encoded PEBench questions of a dataset directory."""

import torch

from pebench.config import load_config
from pebench.core import distributed
from pebench.data.build import load_dataset_dir
from pebench.data.corpus import text_corpus
from pebench.data.qa import pebench_qas
from pebench.models import build_model


def tiny_setup(data_dir: str, model: str | None = None):
    """(config, model, records by image id, questions, encoded examples {"answer": ...}); the
    tiny LLaVA, or the tiny model of builder `model`."""
    distributed.init()
    torch.set_num_threads(1)
    cfg = load_config("tiny", None, {"model": {"name": model}} if model else None)
    data = load_dataset_dir(data_dir)
    vlm = build_model(cfg.model, text_corpus(data), seed=0)
    records = {r.image_id: r for r in data.images}
    qas = pebench_qas(data, sorted(r.image_id for r in data.of_kind("pebench")))
    examples = [{"answer": vlm.encode(q.image_id, records[q.image_id].image, q.question, q.answer)} for q in qas]
    return cfg, vlm, records, qas, examples
