"""The dataset card (README.md with a Hugging Face YAML header) of a built dataset directory."""

from __future__ import annotations

from pebench import __version__
from pebench.config import DataConfig


def dataset_card(cfg: DataConfig, counts: dict) -> str:
    """The card's text for a dataset built with `cfg` holding `counts`."""
    header = "\n".join([
        "---",
        "pretty_name: PEBench synthetic (pebench)",
        "license: cc-by-4.0",
        "task_categories: [image-text-to-text]",
        "configs:",
        "- config_name: images",
        "  data_files: images.parquet",
        "  default: true",
        "- config_name: persons",
        "  data_files: persons.parquet",
        "- config_name: events",
        "  data_files: events.parquet",
        "---",
    ])
    body = f"""
# PEBench synthetic dataset (built by pebench {__version__})

Fictitious persons photographed at events, for benchmarking machine unlearning in
multimodal LLMs (the PEBench protocol, arXiv 2503.12545). Every person and name is
invented. Images are drawn by the `{cfg.renderer}` renderer at {cfg.image_size} px.

| part | count |
|---|---|
| PEBench persons | {counts['persons']} |
| events | {counts['events']} |
| PEBench images ({cfg.renders_per_pair} per person-event pair) | {counts['pebench']} |
| public figures (Real set identities) | {counts['public']} |
| real images (train / eval) | {counts['real_train']} / {counts['real_eval']} |
| world images (train / eval) | {counts['world_train']} / {counts['world_eval']} |
| held-out persons / events (never trained on) | {counts['holdout_persons']} / {counts['holdout_events']} |
| held-out images | {counts['holdout']} |

## Columns

* `images`: `image_id`, `image` (PNG), `kind` (`pebench` | `real` | `world` | `holdout`), `role`
  (`train` | `eval` for real/world images, empty for PEBench), `person_id` (-1: none),
  `event_id` (-1: none), `scene` (foundation backdrop name), `render`, `objects`
  (everyday objects drawn in the image, for POPE-style questions).
* `persons`: profile (`name`, `age`, `gender`, `job`, `job_category`, `city`, `region`),
  `appearance` (agrees with what is drawn), `look_*` attributes, `public` (a Real-set figure), `holdout` (never trained on).
* `events`: `event_id`, `name`, `keywords` (from the paper), `description` (ours), `holdout`.

Build config: `build.json`. Rebuilding with the same config gives byte-identical files.
"""
    return header + "\n" + body
