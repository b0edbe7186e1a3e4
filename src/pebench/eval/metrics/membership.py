"""Membership-inference AUCs (see `pebench.eval.privacy` for the attacks): each attack's per-
sample score averaged per identity, then the ROC AUC of forget-set identities (members)
against held-out ones (non-members). 0.5 = the attack cannot tell them apart, as for the Goal.

In scenario `both` the forget identities are persons and events, whose scores have different
scales (a name against a scene description) and whose member / non-member ratios differ, so
one AUC over both would rank a person against an event: there each attack's AUC is reported
per concept (`person_mia_loss_auc`, `event_mia_loss_auc`), as the Table 2 columns are."""

from __future__ import annotations

from pebench.eval.metrics import Metric, RowInputs, register, sample_concept
from pebench.eval.privacy import MIA_ATTACKS, auc, identity_means

HEADS = {"loss": "AUC loss", "zlib": "AUC zlib", "mink": "AUC Min-K", "minkpp": "AUC Min-K++"}
PER_IDENTITY = "ROC AUC over identities (each the mean score of its questions), members against non-members"


def _side(inputs: RowInputs, side: str, score: str, concept: str = "") -> list[float]:
    chosen = [s for s in inputs.samples if s["set"] == side and (not concept or sample_concept(s) == concept)]
    return list(identity_means(chosen, score).values())


def _auc(attack: str, concept: str = ""):
    return lambda inputs: auc(_side(inputs, "mia_member", attack, concept), _side(inputs, "mia_nonmember", attack, concept))


for _attack in MIA_ATTACKS:
    register(Metric(f"mia_{_attack}_auc", HEADS[_attack], "unit", "chance", "membership-inference AUC "
                    "(0.5 = cannot tell)", PER_IDENTITY, table="privacy", needs=("membership", "one_concept"),
                    compute=_auc(_attack)))
    for _concept in ("person", "event"):
        register(Metric(f"{_concept}_mia_{_attack}_auc", f"{_concept.capitalize()} {HEADS[_attack]}", "unit", "chance",
                        f"membership-inference AUC over {_concept}s only (0.5 = cannot tell)", PER_IDENTITY,
                        table="privacy", needs=("membership", "two_concepts"), compute=_auc(_attack, _concept)))
for _side_name, _set in (("members", "mia_member"), ("nonmembers", "mia_nonmember")):
    register(Metric(f"mia_{_side_name}", f"MIA {_side_name}", "count", "higher", f"identities in {_set}",
                    "count of identities", needs=("membership",),
                    compute=lambda inputs, _set=_set: float(len(_side(inputs, _set, "nll")))))
    for _concept in ("person", "event"):  # what the per-concept AUCs of scenario both rest on
        register(Metric(f"{_concept}_mia_{_side_name}", f"MIA {_concept} {_side_name}", "count", "higher",
                        f"{_concept} identities in {_set}", "count of identities", needs=("membership", "two_concepts"),
                        compute=lambda inputs, _set=_set, _c=_concept: float(len(_side(inputs, _set, "nll", _c)))))
