"""Generate docs/cli.md's reference from the CLI itself; `--check` fails on any difference.

    python scripts/cli_reference.py          # rewrite the generated block of docs/cli.md
    python scripts/cli_reference.py --check  # what CI runs (tests/test_docs.py)

Each command's usage, help and options come from the click command tree that typer builds from
`pebench.cli.app`, so the page cannot drift from the commands. Typer may bring its own copy of
click (typer 0.29 vendors it), so the tree is read by duck typing, not by click's classes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import typer

from pebench.cli import app

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
BEGIN = "<!-- BEGIN GENERATED: cli (scripts/cli_reference.py) -->"
END = "<!-- END GENERATED: cli -->"


def _commands(group, path: str, ctx):
    """(`pebench data build`, command, context) for every leaf command, in the order they were added."""
    for name, command in group.commands.items():
        sub = command.context_class(command, parent=ctx, info_name=name)
        if hasattr(command, "commands"):
            yield from _commands(command, f"{path} {name}", sub)
        else:
            yield f"{path} {name}", command, sub


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")


def _value(param, ctx) -> str:
    """What an option takes, as `--help` shows it (`<path>`, `<int>`)."""
    if hasattr(param, "display_type"):  # typer's own parameters (typer >= 0.25)
        return param.display_type(ctx)
    try:
        return param.make_metavar(ctx)
    except TypeError:  # click < 8.2 takes no context
        return param.make_metavar()


def _argument(param) -> str:
    return param.name.upper() + ("..." if param.nargs == -1 else "")


def _argument_text(param) -> str:
    return f"`{_argument(param)}` {_cell(getattr(param, 'help', None) or '')}".strip()


def _option_row(param, ctx) -> str:
    names = " / ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    kind = "flag" if getattr(param, "is_flag", False) else f"`{_value(param, ctx)}`"
    default = param.default if param.default not in (None, (), [], False) and not callable(param.default) else ""
    return f"| {names} | {kind} | {_cell(str(default)) if default != '' else ''} | {_cell(getattr(param, 'help', '') or '')} |"


def command_section(path: str, command, ctx) -> str:
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option" and not p.hidden]
    usage = " ".join([path, *(_argument(p) for p in arguments), "[OPTIONS]" if options else ""]).strip()
    lines = [f"## `{path}`", "", _cell(command.help or ""), "", "```text", usage, "```", ""]
    if arguments:
        lines += ["Arguments: " + "; ".join(_argument_text(p) for p in arguments) + ".", ""]
    if options:
        lines += ["| option | value | default | what |", "|---|---|---|---|", *(_option_row(p, ctx) for p in options), ""]
    return "\n".join(lines)


def reference() -> str:
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="pebench")
    sections = [command_section(path, command, sub) for path, command, sub in _commands(root, "pebench", ctx)]
    return "\n".join([BEGIN, "", *sections, END])


def render(page: str) -> str:
    from pebench.core.generated import replace_block

    return replace_block(page, BEGIN, END, reference(), PAGE)


def main() -> int:
    from pebench.core.generated import sync

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/cli.md differs from what the CLI gives")
    args = parser.parse_args()
    return sync({PAGE: render(PAGE.read_text(encoding="utf-8"))}, args.check, "run scripts/cli_reference.py")


if __name__ == "__main__":
    sys.exit(main())
