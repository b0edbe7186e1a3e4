"""Sequential deletion requests: one model receives several requests in turn, each unlearnt
with the method's own settings from the model the previous one left. Methods that work once
can break as requests pile up: earlier requests come back or Retain collapses (MLUBench;
ICU-Bench, 2025).

The requests are the targets of scenario `both`, split in three: half the forget persons,
then the forget events, then the other half of the persons. After each request: Efficacy on
every request so far (on its D_f_train) and Retain on `both`'s D_r (images of none of them).
"""

from __future__ import annotations

from pebench.data.build import PebenchData
from pebench.splits import Split, restrict


def requests(data: PebenchData, both: Split) -> list[tuple[str, Split]]:
    """(name, split) of each request, in order; every split keeps `both`'s D_r."""
    persons, events = both.forget_persons, both.forget_events
    return [("persons 1", restrict(data, both, persons[0::2], (), keep_retain=True)),
            ("events", restrict(data, both, (), events, keep_retain=True)),
            ("persons 2", restrict(data, both, persons[1::2], (), keep_retain=True))]


def efficacy_of(columns: dict[str, float]) -> float:
    """The one Efficacy a request's columns hold (person or event, whichever it forgets)."""
    (value,) = [v for k, v in columns.items() if k.endswith("efficacy")]
    return value
