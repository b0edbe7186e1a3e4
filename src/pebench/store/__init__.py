"""The stage store: finished stages shared by every run directory, addressed by content
(`stage_store` holds the store, its entries, prune and the stage-record protocol)."""

from pebench.store.stage_store import KINDS, PRUNE_ORDER, Entry, StageStore, default_root, run_directory, run_name, stage_record  # noqa: F401
