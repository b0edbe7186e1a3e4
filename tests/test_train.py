import pytest
import torch

from pebench.core.errors import PebenchError
from pebench.data.qa import pebench_qas
from pebench.methods.finetune import Finetune
from pebench.recipe.pipeline import Encoder
from pebench.train import Stream, train
from pebench.train.loop import _lr_factor


def _run(tiny_cfg, tiny_data, corpus, steps, seed=0):
    from pebench.models import build_model

    vlm = build_model(tiny_cfg.model, corpus, seed=0)
    ex = Encoder(vlm, tiny_data).examples(pebench_qas(tiny_data, [r.image_id for r in tiny_data.of_kind("pebench")][:16]))
    losses = []
    train(vlm.model, lambda b: Finetune().loss(vlm, b, None), {"train": Stream([(ex, 8)], vlm.collate, "s")},
          steps=steps, lr=3e-3, warmup=2, seed=seed, on_step=lambda s, logs: losses.append(logs["loss"]))
    return vlm, losses


def test_training_lowers_the_loss(tiny_cfg, tiny_data, corpus):
    _, losses = _run(tiny_cfg, tiny_data, corpus, 25)
    assert sum(losses[-5:]) / 5 < losses[0] * 0.7


def test_training_is_bit_deterministic(tiny_cfg, tiny_data, corpus):
    a, la = _run(tiny_cfg, tiny_data, corpus, 4)
    b, lb = _run(tiny_cfg, tiny_data, corpus, 4)
    assert la == lb
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_schedule_warms_up_then_decays():
    f = [_lr_factor(s, 10, 100) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert f[50] < f[10] and f[99] < 0.01


def test_stream_mixes_parts_and_rejects_empty(tiny_vlm, tiny_data):
    enc = Encoder(tiny_vlm, tiny_data)
    recs = tiny_data.of_kind("pebench")
    a = enc.examples(pebench_qas(tiny_data, [recs[0].image_id], ("identity",)))
    b = enc.examples(pebench_qas(tiny_data, [recs[1].image_id], ("scene",)))
    batch = next(Stream([(a, 3), (b, 2)], tiny_vlm.collate, "x"))["answer"]
    assert batch["input_ids"].shape[0] == 5
    with pytest.raises(PebenchError, match="no examples"):
        Stream([([], 4)], tiny_vlm.collate, "x")
