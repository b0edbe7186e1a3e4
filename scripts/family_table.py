"""Write the model-family table of docs/real-models.md from the family registry
(`pebench.models.family.FAMILIES`): family, transformers class, tiny builder, how images become
tokens, whether questions about one image share its prompt prefix in generation and what differs
from LLaVA. `--check` fails when the page differs (tests run it).

    python scripts/family_table.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "real-models.md"
BEGIN = "<!-- BEGIN GENERATED: families (scripts/family_table.py) -->"
END = "<!-- END GENERATED: families -->"


def cell(text: str) -> str:
    """A table cell: special tokens as code, their pipes escaped (they would split the row)."""
    return re.sub(r"<[^<>\s]+>", lambda m: "`" + m.group(0).replace("|", "\\|") + "`", text)


def table() -> str:
    from pebench.models.family import FAMILIES

    rows = ["| family | class (`model_type`) | tiny builder | image tokens | shared prefixes | known differences |",
            "|---|---|---|---|---|---|"]
    for family in sorted(FAMILIES.values(), key=lambda f: f.name):
        types = ", ".join(f"`{t}`" for t in family.model_types)
        builders = ", ".join(f"`{b}`" for b in family.tiny)
        rows.append(f"| {family.name} | `{family.model_class}` ({types}) | {builders} | {cell(family.image_tokens)} | "
                    f"{'yes' if family.shares_prefix else 'no'} | {cell(family.differences)} |")
    return "\n".join([BEGIN, "", *rows, "", END])


def render(page: str) -> str:
    from pebench.core.generated import replace_block

    return replace_block(page, BEGIN, END, table(), PAGE)


def main() -> int:
    from pebench.core.generated import sync

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page differs from the registry")
    args = parser.parse_args()
    return sync({PAGE: render(PAGE.read_text(encoding="utf-8"))}, args.check, "run scripts/family_table.py")


if __name__ == "__main__":
    sys.exit(main())
