"""The stage store: finished stages shared by every run directory, addressed by content
(`stage_store` holds the store, its entries, prune and the stage-record protocol;
`copies` copies a store without its rows)."""

from pebench.store.stage_store import KINDS, PRUNE_ORDER, Entry, StageStore, default_root, run_directory, run_name, stage_record  # noqa: F401
from pebench.store.copies import copy_without_rows  # noqa: F401
