import pytest
import torch

from pebench.core.errors import PebenchError
from pebench.data.qa import IDENTITY_Q, SCENE_Q
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
    vision = tiny_vlm.model.config.vision_config
    assert enc.input_ids.count(image_token) == (vision.image_size // vision.patch_size) ** 2  # one per patch


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


class _WithoutLogitsToKeep(torch.nn.Module):
    """A model whose forward does not take `logits_to_keep` (older or custom architectures)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, **inputs):
        return self.inner(**inputs)


def test_answer_position_logits_equal_the_full_forward(tiny_vlm, tiny_data):
    """Logits are projected only at answer positions; nll, log-probs and logits equal those of
    Hugging Face's full forward (and of the fallback for models without `logits_to_keep`)."""
    recs = [_rec(tiny_data, i) for i in range(3)]
    batch = tiny_vlm.collate([tiny_vlm.encode(r.image_id, r.image, q, a) for r, (q, a) in
                              zip(recs, [(IDENTITY_Q, "This is A B."), (SCENE_Q, "A long scene with a crowd."),
                                         (IDENTITY_Q, "This is C.")])])
    fallback = tiny_vlm.with_model(_WithoutLogitsToKeep(tiny_vlm.model))
    assert tiny_vlm._keeps_logits and not fallback._keeps_logits
    with torch.no_grad():
        full = tiny_vlm.model(**batch)
        logps, mask, logits = tiny_vlm.token_logprobs(batch)
        fb_logps, fb_mask, fb_logits = fallback.token_logprobs(batch)
        nll, fb_nll = tiny_vlm.nll(batch), fallback.nll(batch)
    assert torch.allclose(nll, full.loss, atol=1e-5) and torch.allclose(fb_nll, full.loss, atol=1e-5)
    assert torch.equal(mask, batch["labels"][:, 1:] != -100) and torch.equal(mask, fb_mask)
    assert torch.allclose(logits[mask], full.logits[:, :-1][mask], atol=1e-5)
    assert torch.allclose(fb_logits, logits, atol=1e-5) and torch.allclose(fb_logps, logps, atol=1e-5)
    assert not logits[~mask].any() and not logps[~mask].any()  # outside the answers: zeros


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
