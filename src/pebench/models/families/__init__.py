"""One file per model family: its facts (`pebench.models.family.Family`) and its tiny builder.
Importing this package registers them all (`pebench.models` does)."""

from pebench.models.families import (gemma3, gemma4, idefics3, internvl, llava, llava_next,  # noqa: F401
                                     llava_onevision, qwen2_vl, qwen3_vl)
