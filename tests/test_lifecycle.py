"""The model lifecycle: full copies and LoRA adapters behind one interface (what the training
stages call instead of branching on LoRA), on the tiny LLaVA."""

import pytest
import torch

from pebench.config import LoraConfig
from pebench.data.qa import IDENTITY_Q
from pebench.models.lifecycle import FullCopies, LoraAdapters, model_lifecycle


def _logits(vlm, batch) -> torch.Tensor:
    vlm.model.eval()
    with torch.no_grad():
        return vlm.model(**{k: v for k, v in batch.items() if k != "labels"}).logits


@pytest.fixture()
def setup(tiny_vlm, tiny_data, tiny_cfg):
    rec = next(r for r in tiny_data.images if r.kind == "pebench")
    batch = tiny_vlm.collate([tiny_vlm.encode(rec.image_id, rec.image, IDENTITY_Q, "This is A B.")])
    cfg = tiny_cfg.model.model_copy(update={"lora": LoraConfig(enabled=True, dropout=0.0, r=4)})
    return tiny_vlm, batch, cfg


def _train(vlm) -> None:
    """Stand-in for training: move every trainable weight."""
    with torch.no_grad():
        for p in vlm.model.parameters():
            if p.requires_grad:
                p.add_(0.05)


def test_the_config_picks_the_lifecycle(setup, tiny_cfg):
    _, _, lora_cfg = setup
    assert type(model_lifecycle(tiny_cfg.model)) is FullCopies and type(model_lifecycle(lora_cfg)) is LoraAdapters


def test_full_copies_train_a_copy_and_compare_with_the_base(setup, tiny_cfg, tmp_path):
    base, batch, _ = setup
    life = FullCopies(tiny_cfg.model)
    before = _logits(base, batch)
    trained = life.trainable(base, "seed")
    _train(trained)
    assert torch.equal(_logits(base, batch), before) and not torch.equal(_logits(trained, batch), before)
    assert life.reference(trained, base) is base and life.finish(trained) is trained
    life.write(trained, tmp_path)
    assert torch.equal(_logits(life.load(base, tmp_path), batch), _logits(trained, batch))


def test_lora_adapters_are_seeded_stored_alone_and_merged_into_a_copy(setup, tmp_path):
    base, batch, cfg = setup
    life = LoraAdapters(cfg)
    before = _logits(base, batch)
    trained = life.trainable(base, "goal:0")
    first = {n: p.clone() for n, p in trained.model.named_parameters() if "lora_A" in n}
    assert first and all(not p.requires_grad for n, p in trained.model.named_parameters() if "lora_" not in n)
    _train(trained)
    after = _logits(trained, batch)
    assert not torch.equal(after, before)
    assert torch.allclose(_logits(life.reference(trained, base), batch), before, atol=1e-6)  # adapter disabled
    life.write(trained, tmp_path / "stage")
    assert (tmp_path / "stage" / "adapter_model.safetensors").is_file()
    assert not (tmp_path / "stage" / "model.safetensors").exists()  # the adapter only
    merged = life.finish(trained)
    assert not hasattr(base.model, "peft_config") and torch.allclose(_logits(base, batch), before, atol=1e-6)
    assert torch.allclose(_logits(merged, batch), after, atol=1e-5)
    assert torch.allclose(_logits(life.load(base, tmp_path / "stage"), batch), after, atol=1e-5)
    again = life.trainable(base, "goal:0")  # the same seed draws the same adapter
    assert all(torch.equal(p, first[n]) for n, p in again.model.named_parameters() if "lora_A" in n)
    life.release(again, None)


def test_lora_release_saves_the_adapter_and_carry_on_keeps_the_merged_model(setup, tmp_path):
    base, batch, cfg = setup
    life = LoraAdapters(cfg)
    before = _logits(base, batch)
    unlearnt = life.trainable(base, "person:GA:0")
    _train(unlearnt)
    after = _logits(unlearnt, batch)
    life.release(unlearnt, tmp_path / "GA")
    assert (tmp_path / "GA" / "adapter_config.json").is_file()
    assert not hasattr(base.model, "peft_config") and torch.allclose(_logits(base, batch), before, atol=1e-6)
    unlearnt = life.trainable(base, "person:GA:0")
    _train(unlearnt)
    following = life.carry_on(unlearnt)  # the next request starts from this model, without an adapter
    assert not hasattr(following.model, "peft_config") and torch.allclose(_logits(following, batch), after, atol=1e-5)
    assert torch.allclose(_logits(base, batch), before, atol=1e-6)


def test_an_unlearnt_adapter_loads_by_the_standard_route_as_the_unlearnt_model(setup, tmp_path):
    """base + Finetuned adapter + method adapter, stored as one adapter over the stock base:
    PeftModel.from_pretrained(<base_model_name_or_path>, dir) gives the run's merged model."""
    import json

    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    from pebench.models.builders import load_model_dir

    tiny, batch, cfg = setup
    tiny.save(tmp_path / "stock")
    base = load_model_dir(tmp_path / "stock", cfg)
    life = LoraAdapters(cfg)
    finetuned = life.trainable(base, "finetuned:0")
    _train(finetuned)
    finetuned = life.finish(finetuned, "finetuned")
    ga = life.trainable(finetuned, "person:GA:0")
    _train(ga)
    following = life.carry_on(ga)  # a sequential request: the next one starts from GA's model
    npo = life.trainable(following, "person:NPO:0")
    _train(npo)
    expected = _logits(npo, batch)
    card = {"method": "NPO", "scenario": "person", "forget": {"persons": ["Ada Lovelace"], "events": []}}
    life.release(npo, tmp_path / "NPO", card)
    stored = json.loads((tmp_path / "NPO" / "adapter_config.json").read_text())
    assert stored["base_model_name_or_path"] == str(tmp_path / "stock") and stored["r"] == 3 * cfg.lora.r
    loaded = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(stored["base_model_name_or_path"]),
                                       tmp_path / "NPO").eval()
    with torch.no_grad():
        got = loaded(**{k: v for k, v in batch.items() if k != "labels"}).logits
    assert torch.allclose(got, expected, atol=1e-5)
    card = (tmp_path / "NPO" / "README.md").read_text()
    assert "NPO" in card and "Ada Lovelace" in card and "finetuned (LoRA rank 4) -> sequential request" in card


def test_making_an_adapter_leaves_the_training_rng_alone(setup):
    """FSDP snapshots make an adapter at every checkpoint: that must not reseed the global RNG
    (dropout masks would then depend on probes.every)."""
    base, _, cfg = setup
    life = LoraAdapters(cfg)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = life.trainable(base, "goal:0")
    weights = {n: p.clone() for n, p in first.model.named_parameters() if "lora_A" in n}
    life.release(first, None)
    assert torch.equal(torch.random.get_rng_state(), state)
    again = life.trainable(base, "goal:0")
    assert all(torch.equal(p, weights[n]) for n, p in again.model.named_parameters() if "lora_A" in n)
    life.release(again, None)
