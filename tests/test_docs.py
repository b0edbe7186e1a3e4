"""The documentation: the site builds with warnings as errors, the CLI reference is the CLI's
own, and every code block of the README and the docs is run or checked by a test."""

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import typer

from pebench.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^( *)```(\S*)\n(.*?)^\1```", flags=re.S | re.M)
LANGUAGES = {"bash", "python", "toml", "yaml", "text", "{toctree}"}


def _blocks(language: str | None = None):
    for page in PAGES:
        for match in FENCE.finditer(page.read_text(encoding="utf-8")):
            if language is None or match.group(2) == language:
                yield page, match.group(2), match.group(3)


@pytest.mark.slow
def test_the_docs_site_builds_with_warnings_as_errors(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                             str(ROOT / "docs"), str(tmp_path / "html")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "html" / "cli.html").is_file() and (tmp_path / "html" / "methods.html").is_file()


def test_the_cli_reference_is_generated_from_the_cli():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path, _, _ in _leaf_commands():
        assert f"## `{path}`" in page


def test_every_code_block_says_its_language():
    untagged = [(page.name, body.splitlines()[0]) for page, language, body in _blocks() if language not in LANGUAGES]
    assert not untagged


def test_every_python_block_is_run_by_a_test():
    """docs/extending.md runs whole (test_extending.py); the methods page's `my_method.py` runs in
    test_methods.py. Any other Python block would be untested, so it fails here."""
    for page, _, body in _blocks("python"):
        assert page.name == "extending.md" or body.startswith("# my_method.py\n"), f"untested Python block in {page.name}"


def test_every_toml_block_parses():
    for page, _, body in _blocks("toml"):
        tomllib.loads(body)


def _leaf_commands():
    root = typer.main.get_command(app)

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, f"{path} {name}")
            else:
                yield f"{path} {name}", command, {o for p in command.params for o in [*p.opts, *p.secondary_opts]}

    yield from walk(root, "pebench")


def _pebench_invocations(script: str):
    """The argument lists of every `pebench …` or `… -m pebench …` command in a shell block."""
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("#"):
            continue
        for command in line.split("&&"):
            words = shlex.split(command)
            if words[:1] == ["pebench"]:
                yield words[1:]
            elif "-m" in words and words[words.index("-m") + 1:][:1] == ["pebench"]:
                yield words[words.index("-m") + 2:]


def test_every_pebench_command_in_the_docs_names_real_commands_options_and_files():
    commands = {path: options for path, _, options in _leaf_commands()}
    seen = 0
    for page, _, body in _blocks("bash"):
        for args in _pebench_invocations(body):
            words = [w for w in args if not w.startswith("-")]
            path = next((p for p in sorted(commands, key=len, reverse=True)
                         if p.split()[1:] == words[:len(p.split()) - 1]), None)
            assert path, f"{page.name}: no command `pebench {' '.join(args)}`"
            for word in args:
                if word.startswith("--") and word != "...":
                    assert word.split("=")[0] in commands[path], f"{page.name}: `{path}` has no option {word}"
            for flag, value in zip(args, args[1:]):
                if flag == "--config" and value.startswith("configs/"):
                    assert (ROOT / value).is_file(), f"{page.name}: {value} does not exist"
            seen += 1
    assert seen >= 5


def test_the_family_table_is_written_from_the_registry():
    import importlib.util

    spec = importlib.util.spec_from_file_location("family_table", ROOT / "scripts" / "family_table.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    page = script.PAGE.read_text(encoding="utf-8")
    assert script.render(page) == page, "docs/real-models.md differs from the registry: run scripts/family_table.py"
