"""The flux renderer on a tiny FluxPipeline built from configs, and its identity check."""

import json

import pytest
import torch
from tiny_diffusion import save_tiny_clip, save_tiny_flux

from pebench.config import DataConfig
from pebench.core.errors import PebenchError
from pebench.data.build import build_dataset, load_dataset_dir, planned_images
from pebench.data.diffusion import identity_outliers


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("diffusion")
    return save_tiny_flux(root / "flux"), save_tiny_clip(root / "clip")


def _cfg(flux, clip, **diffusion):
    settings = {"model": str(flux), "verify_model": str(clip), "steps": 2, "max_sequence_length": 64,
                "dtype": "float32", "device": "cpu", "batch_size": 3, **diffusion}
    return DataConfig(persons=2, events=3, image_size=32, public_figures=1, real_train_renders=1, real_eval_renders=1,
                      world_train_images=2, world_eval_images=1, holdout_persons=1, holdout_events=1, renderer="flux",
                      diffusion=settings)


def test_flux_builds_a_dataset_deterministically(tiny_dirs, tmp_path):
    flux, clip = tiny_dirs
    cfg = _cfg(flux, clip, verify_threshold=-1.0)
    out = build_dataset(cfg, tmp_path / "a")
    data = load_dataset_dir(out)
    assert len(data.images) == planned_images(cfg)
    assert {r.image.size for r in data.images} == {(32, 32)}
    pebench = data.of_kind("pebench")
    assert len({r.image.tobytes() for r in pebench}) == len(pebench)  # seeded per image: all different
    check = json.loads((out / "build.json").read_text())["source"]["identity_check"]
    assert check["verified"] and check["checked"] == 2 * 3 + 1 * 4 + 2 and check["regenerated"] == 0
    again = build_dataset(cfg, tmp_path / "b")
    assert (again / "images.parquet").read_bytes() == (out / "images.parquet").read_bytes()


def test_identity_check_regenerates_outliers_then_records_failures(tiny_dirs, tmp_path):
    flux, clip = tiny_dirs
    out = build_dataset(_cfg(flux, clip, verify_threshold=1.01, max_attempts=2), tmp_path / "strict")
    check = json.loads((out / "build.json").read_text())["source"]["identity_check"]
    assert check["regenerated"] == check["checked"] == 12  # every person image failed once and was re-rendered
    assert len(check["failed"]) == 12 and "p0000-e00-r0" in check["failed"]
    loose = build_dataset(_cfg(flux, clip, verify_threshold=-1.0), tmp_path / "loose")
    strict_images = {r.image_id: r.image.tobytes() for r in load_dataset_dir(out).images}
    loose_images = {r.image_id: r.image.tobytes() for r in load_dataset_dir(loose).images}
    assert strict_images["p0000-e00-r0"] != loose_images["p0000-e00-r0"]  # re-rendered with the next seed
    assert strict_images["world-train-00000"] == loose_images["world-train-00000"]  # no person: not checked


def test_identity_outliers_flags_the_odd_image():
    same = torch.tensor([1.0, 0.0, 0.0])
    emb = {7: torch.stack([same, same * 2, torch.tensor([0.0, 1.0, 0.0]), same + 0.05, same, same * 3]), 8: same[None]}
    assert identity_outliers(emb, 0.9) == {7: [2]}  # scale-free; a person with one image is never an outlier
    assert identity_outliers(emb, -1.0) == {}


@pytest.mark.parametrize("diffusion,message", [
    ({"model": None}, "needs data.diffusion.model"),
    ({"verify_model": None}, "needs data.diffusion.verify_model"),
])
def test_flux_settings_are_checked_before_rendering(tiny_dirs, tmp_path, diffusion, message):
    with pytest.raises(PebenchError, match=message):
        build_dataset(_cfg(*tiny_dirs, **diffusion), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_missing_pipeline_is_a_clear_error(tiny_dirs, tmp_path):
    with pytest.raises(PebenchError, match="cannot load the diffusion pipeline"):
        build_dataset(_cfg(tmp_path / "nowhere", tiny_dirs[1]), tmp_path / "x")
