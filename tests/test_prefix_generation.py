"""Shared image prefixes in generation: each image's prompt prefix runs once for all its
questions, and every answer is the one the left-padded batch and a one-at-a-time loop give, for
every family whose facts say it shares them (image-first template, 1-D positions)."""

import pytest

from pebench.config import ModelConfig
from pebench.data.qa import IDENTITY_Q, POPE_Q, SCENE_Q
from pebench.models import MODEL_BUILDERS
from pebench.models.family import FAMILIES
from pebench.models.prefix_generation import shared_prefix_length

QUESTIONS = (IDENTITY_Q, SCENE_Q, POPE_Q.format("cat"), POPE_Q.format("traffic light"))


def _items(vlm, data, images=4):
    recs = data.of_kind("pebench")[:images]
    return [vlm.encode(r.image_id, r.image, q) for r in recs for q in QUESTIONS]


@pytest.mark.parametrize("name", sorted(n for f in FAMILIES.values() if f.shares_prefix for n in f.tiny if n != "tiny-base"))
def test_shared_prefix_answers_equal_left_padded_and_one_at_a_time(name, tiny_data, corpus):
    """An untrained model's answers are arbitrary token strings, so any slip in positions,
    masks or cache rows would change them."""
    vlm = MODEL_BUILDERS.get(name)(ModelConfig(name=name), corpus, 0)
    items = _items(vlm, tiny_data)
    assert shared_prefix_length(vlm, items) > 0
    shared = vlm.generate(items, max_new_tokens=10, batch_size=16)
    vlm.share_image_prefix = False
    padded = vlm.generate(items, max_new_tokens=10, batch_size=16)
    single = [vlm.generate([it], max_new_tokens=10, batch_size=1)[0] for it in items]
    assert shared == padded == single


def test_each_image_goes_through_the_vision_tower_once(tiny_vlm, tiny_data):
    items = _items(tiny_vlm, tiny_data, images=3)
    seen = []
    hook = tiny_vlm.model.model.vision_tower.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    try:
        tiny_vlm.generate(items, max_new_tokens=4, batch_size=len(items))
        shared = sum(seen)
        seen.clear()
        tiny_vlm.share_image_prefix = False
        tiny_vlm.generate(items, max_new_tokens=4, batch_size=len(items))
    finally:
        hook.remove()
    assert shared == 3 and sum(seen) == len(items) == 12


def test_nothing_is_shared_when_it_cannot_or_need_not_be(tiny_vlm, tiny_data, corpus):
    once_each = [tiny_vlm.encode(r.image_id, r.image, IDENTITY_Q) for r in tiny_data.of_kind("pebench")[:4]]
    assert shared_prefix_length(tiny_vlm, once_each) == 0  # every image asked once: nothing to share
    qwen = MODEL_BUILDERS.get("tiny-qwen2-vl")(ModelConfig(name="tiny-qwen2-vl"), corpus, 0)
    assert shared_prefix_length(qwen, _items(qwen, tiny_data, images=2)) == 0  # M-RoPE: not shared
    gemma = MODEL_BUILDERS.get("tiny-gemma3")(ModelConfig(name="tiny-gemma3"), corpus, 0)
    assert shared_prefix_length(gemma, _items(gemma, tiny_data, images=2)) == 0  # image tokens attend both ways
