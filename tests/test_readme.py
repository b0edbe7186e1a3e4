"""The README's results and base sections are generated from stored run files; a hand edit fails."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_results.py"), *args],
                          capture_output=True, text=True, timeout=120)


def test_readme_results_match_the_stored_run():
    result = _script("--check")
    assert result.returncode == 0, result.stderr


def test_a_hand_edit_of_a_results_table_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = readme_results.json.loads(readme_results.RESULTS.read_text(encoding="utf-8"))
    stability = (readme_results.json.loads(readme_results.STABILITY.read_text(encoding="utf-8"))
                 if readme_results.STABILITY.is_file() else None)
    assert readme_results.render(readme, results, stability) == readme
    begin = readme.index(readme_results.BEGIN)
    row = readme.index("| Finetuned |", begin)
    edited = readme[:row] + "| Finetuned | 99.99 " + readme[row + len("| Finetuned | "):]
    assert readme_results.render(edited, results, stability) != edited



def test_columns_that_cannot_rank_the_methods_are_named():
    """Issue 27: a column that reads the same for every method is listed in the README's Power
    section (generated), so a reader never takes it for a ranking."""
    import json

    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_results import constant_columns

    results = json.loads((ROOT / "docs" / "results" / "results.json").read_text(encoding="utf-8"))
    person = results["scenarios"]["person"]
    assert "mia_loss_auc" not in constant_columns(person, "person")
    person["methods"] = {m: {**row, "mia_loss_auc": 1.0} for m, row in person["methods"].items()}
    assert constant_columns(person, "person")["mia_loss_auc"] == 1.0
