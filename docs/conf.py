"""Sphinx configuration of the pebench documentation (Markdown pages through MyST, the Furo theme).

Build it as CI does, warnings as errors (`tests/test_docs.py`):

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from pebench import __version__

project = "pebench"
author = "the pebench authors"
copyright = "2026, the pebench authors"
release = version = __version__

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "results"]
myst_heading_anchors = 3  # `page.md#a-section` links resolve (and a wrong one is a warning, so an error)
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = f"pebench {__version__}"
html_static_path: list[str] = []
