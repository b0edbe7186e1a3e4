"""Membership-inference AUCs (see `pebench.eval.privacy` for the attacks): each attack's per-
sample score averaged per identity, then the ROC AUC of forget-set identities (members)
against held-out ones (non-members). 0.5 = the attack cannot tell them apart, as for the Goal."""

from __future__ import annotations

from pebench.eval.metrics import Metric, RowInputs, register
from pebench.eval.privacy import MIA_ATTACKS, auc, identity_means

HEADS = {"loss": "AUC loss", "zlib": "AUC zlib", "mink": "AUC Min-K", "minkpp": "AUC Min-K++"}
PER_IDENTITY = "ROC AUC over identities (each the mean score of its questions), members against non-members"


def _side(inputs: RowInputs, side: str, score: str) -> list[float]:
    return list(identity_means([s for s in inputs.samples if s["set"] == side], score).values())


def _auc(attack: str):
    return lambda inputs: auc(_side(inputs, "mia_member", attack), _side(inputs, "mia_nonmember", attack))


for _attack in MIA_ATTACKS:
    register(Metric(f"mia_{_attack}_auc", HEADS[_attack], "unit", "chance", "membership-inference AUC "
                    "(0.5 = cannot tell)", PER_IDENTITY, table="privacy", needs=("membership",), compute=_auc(_attack)))
for _side_name, _set in (("members", "mia_member"), ("nonmembers", "mia_nonmember")):
    register(Metric(f"mia_{_side_name}", f"MIA {_side_name}", "count", "higher", f"identities in {_set}",
                    "count of identities", needs=("membership",),
                    compute=lambda inputs, _set=_set: float(len(_side(inputs, _set, "nll")))))
