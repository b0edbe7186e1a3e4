"""FSDP2 sharding units per model family, and the strategy a launch selects (the sharded
training itself runs on two processes in tests/test_distributed.py)."""

import pytest

from pebench.core import distributed
from pebench.models import build_model
from pebench.models.lora import add_adapter
from pebench.models.sharding import shard_units


@pytest.mark.parametrize("family, vision", [("tiny-llava", "CLIPEncoder"), ("tiny-llava-next", "CLIPEncoder"),
                                            ("tiny-qwen2-vl", "Qwen2VisionTransformerPretrainedModel")])
def test_the_vision_encoder_and_each_decoder_layer_are_units(tiny_cfg, family, vision):
    vlm = build_model(tiny_cfg.model.model_copy(update={"name": family}), ["This is A B."], 0)
    units = shard_units(vlm.model)
    layers = list(vlm.model.model.language_model.layers)
    assert type(units[0]).__name__ == vision and units[1:] == layers
    tower = getattr(vlm.model.model, "vision_tower", None) or vlm.model.model.visual
    share = sum(p.numel() for p in units[0].parameters()) / sum(p.numel() for p in tower.parameters())
    assert share > 0.8  # CLIP: all but the patch embedding and two layer norms; Qwen2-VL: the whole tower
    adapted = add_adapter(vlm, tiny_cfg.model.lora.model_copy(update={"enabled": True}))
    assert shard_units(adapted.model) == units  # under a peft wrapper: the same modules


def test_one_process_is_single_and_a_launch_picks_its_strategy(monkeypatch):
    assert distributed.strategy() == "single" and distributed.describe() == {"strategy": "single", "world_size": 1}
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    assert distributed.strategy() == "ddp"
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert distributed.strategy() == "fsdp" and "FSDP2" in distributed.describe()["sharded"]
    monkeypatch.delenv("ACCELERATE_USE_FSDP")
    monkeypatch.setenv("PEBENCH_STRATEGY", "fsdp")  # torchrun
    assert distributed.strategy() == "fsdp"
