import torch
import pytest

from pebench.data.qa import IDENTITY_Q, SCENE_Q
from pebench.errors import PebenchError
from pebench.models import load_vlm


def _rec(data, i=0):
    return data.of_kind("pebench")[i]


def test_tiny_model_is_a_real_llava(tiny_vlm):
    from transformers import LlavaForConditionalGeneration, LlavaProcessor

    assert isinstance(tiny_vlm.model, LlavaForConditionalGeneration)
    assert isinstance(tiny_vlm.processor, LlavaProcessor)
    assert sum(p.numel() for p in tiny_vlm.model.parameters()) < 2_000_000


def test_encode_labels_only_the_answer(tiny_vlm, tiny_data):
    rec = _rec(tiny_data)
    enc = tiny_vlm.encode(rec.image_id, rec.image, IDENTITY_Q, "This is Aldric Ashgrove.")
    n_answer = sum(l != -100 for l in enc.labels)
    answer_ids = [t for t in enc.labels if t != -100]
    assert answer_ids[-1] == tiny_vlm.tokenizer.eos_token_id
    assert tiny_vlm.tokenizer.decode(answer_ids, skip_special_tokens=True).strip() == "This is Aldric Ashgrove."
    assert enc.input_ids[-n_answer:] == answer_ids
    image_token = tiny_vlm.model.config.image_token_index
    assert enc.input_ids.count(image_token) == 64  # (64 / 8)^2 patches


def test_collate_pads_and_masks(tiny_vlm, tiny_data):
    rec = _rec(tiny_data)
    a = tiny_vlm.encode(rec.image_id, rec.image, IDENTITY_Q, "This is A B.")
    b = tiny_vlm.encode(rec.image_id, rec.image, SCENE_Q, "A long description of a busy scene with many words.")
    right = tiny_vlm.collate([a, b])
    left = tiny_vlm.collate([a, b], left_pad=True)
    short = len(a.input_ids)
    assert right["attention_mask"][0, :short].all() and not right["attention_mask"][0, short:].any()
    assert not left["attention_mask"][0, : -short].any() and left["attention_mask"][0, -short:].all()
    assert (right["labels"][0, short:] == -100).all()
    assert right["pixel_values"].shape[0] == 2


def test_token_logprobs_agree_with_loss(tiny_vlm, tiny_data):
    rec = _rec(tiny_data)
    batch = tiny_vlm.collate([tiny_vlm.encode(rec.image_id, rec.image, IDENTITY_Q, "This is A B.")])
    logps, mask, _ = tiny_vlm.token_logprobs(batch)
    with torch.no_grad():
        nll = tiny_vlm.nll(batch)
    assert torch.allclose(-(logps.sum() / mask.sum()), nll, atol=1e-5)


def test_batched_generation_matches_one_at_a_time(tiny_vlm, tiny_data):
    recs = tiny_data.of_kind("pebench")[:6]
    items = [tiny_vlm.encode(r.image_id, r.image, q) for r in recs for q in (IDENTITY_Q, SCENE_Q)]
    batched = tiny_vlm.generate(items, max_new_tokens=6, batch_size=12)
    single = [tiny_vlm.generate([it], max_new_tokens=6, batch_size=1)[0] for it in items]
    assert batched == single
    assert all(isinstance(a, str) for a in batched)


def test_save_and_reload_gives_identical_logits(tiny_vlm, tiny_data, tmp_path):
    rec = _rec(tiny_data)
    batch = tiny_vlm.collate([tiny_vlm.encode(rec.image_id, rec.image, IDENTITY_Q, "This is A B.")])
    tiny_vlm.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    assert not list((tmp_path / "m").glob("*.bin"))
    again = load_vlm(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(tiny_vlm.model(**{k: v for k, v in batch.items() if k != "labels"}).logits,
                           again.model(**{k: v for k, v in batch.items() if k != "labels"}).logits)


def test_load_refuses_pickle_only_and_missing_dirs(tmp_path, tiny_vlm):
    with pytest.raises(PebenchError, match="does not exist"):
        load_vlm(tmp_path / "none")
    tiny_vlm.save(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").rename(tmp_path / "m" / "pytorch_model.bin")
    with pytest.raises(PebenchError, match="safetensors"):
        load_vlm(tmp_path / "m")
