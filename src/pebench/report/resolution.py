"""What the privacy statistics can resolve, from the counts they rest on, for the table notes.

An AUC over m member and n non-member identities moves in steps of 1/(m·n); forget quality is
the p-value of a two-sample KS test of m identities against the Goal's m, which cannot go below
the p-value of two completely separated samples of those sizes. A reader comparing two methods
must know both (a 4-against-4 KS test bottoms out at p = 0.029, so every method that forgot
badly reads exactly that)."""

from __future__ import annotations

import math
from functools import lru_cache


@lru_cache(maxsize=64)
def ks_floor(m: int, n: int) -> float:
    """The smallest p-value `scipy.stats.ks_2samp` gives for samples of sizes m and n."""
    from scipy.stats import ks_2samp

    return float(ks_2samp(list(range(m)), list(range(10 * (m + n), 10 * (m + n) + n))).pvalue)


def _count(row: dict, key: str) -> int | None:
    value = row.get(key)
    return int(value) if isinstance(value, (int, float)) and not math.isnan(value) and value > 0 else None


def resolution_note(rows: list[tuple[str, dict]]) -> str:
    """The note on the AUC step and the forget-quality floor of a privacy table's rows (persons
    and events apart when the rows carry per-concept counts, as in scenario both)."""
    first = next((row for _, row in rows if _count(row, "mia_members") or _count(row, "person_mia_members")), None)
    if first is None:
        return ""
    groups = [(c, _count(first, f"{c}_mia_members"), _count(first, f"{c}_mia_nonmembers")) for c in ("person", "event")]
    groups = [g for g in groups if g[1] and g[2]] or [("", _count(first, "mia_members"), _count(first, "mia_nonmembers"))]
    parts = []
    for concept, members, nonmembers in groups:
        if not (members and nonmembers):
            continue
        who = f"{concept} " if concept else ""
        parts.append(f"{who}AUCs over {members} forget against {nonmembers} held-out {who}identities move in steps of "
                     f"{1 / (members * nonmembers):.3g}")
    members = _count(first, "mia_members")
    if members:
        parts.append(f"forget quality over {members} forget identities against the Goal's {members} cannot go below "
                     f"p = {ks_floor(members, members):.2g}")
    if not parts:
        return ""
    return ("Resolution: " + "; ".join(parts) + ". An AUC of 1 means every forget identity scores above every "
            "held-out one, and a forget quality at its floor that every forget loss lies on one side of all the "
            "Goal's: both saturate when no method comes near the Goal.")
