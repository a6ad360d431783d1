"""One point per epoch: an experiment's epochs as its events define them, resumes included.

A run that was lost (its trainer died, say) is placed again from the checkpoint that holds
`from_epoch` epochs, and the scheduler says so with an `ExperimentResumed` event. From then on
an `EpochEnded` supersedes an earlier one with the same epoch, and the points past `from_epoch`
seen before the resume are void, even one never trained again (the new run may fail first).
Every table of epochs the commands print is made from `one_per_epoch`, so that each epoch
appears once, with the metrics of its latest training.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from azuraforge.v1 import events_pb2
from forge_cli.columns import align
from forge_learner.report import format_number

# The event kinds `one_per_epoch` reads; a client may keep just these.
CURVE_KINDS = frozenset({"epoch_ended", "experiment_resumed"})


def one_per_epoch(events: Iterable[events_pb2.ExperimentEvent]) -> list[events_pb2.EpochEnded]:
    """The epochs of `events` (in `seq` order), each one's latest, in the order of epochs."""
    latest: dict[int, events_pb2.EpochEnded] = {}
    for event in events:
        kind = event.WhichOneof("kind")
        if kind == "epoch_ended":
            latest[event.epoch_ended.epoch] = event.epoch_ended
        elif kind == "experiment_resumed":
            kept = event.experiment_resumed.from_epoch
            latest = {epoch: ended for epoch, ended in latest.items() if epoch <= kept}
    return [latest[epoch] for epoch in sorted(latest)]


def epoch_table(epochs: Sequence[events_pb2.EpochEnded]) -> list[str]:
    """Aligned lines: a header, then one row per epoch with a column per metric."""
    if not epochs:
        return []
    names = sorted({name for ended in epochs for name in ended.metrics})
    rows = [["epoch", *names]]
    for ended in epochs:
        cells = (
            format_number(ended.metrics[name]) if name in ended.metrics else "-" for name in names
        )
        rows.append([str(ended.epoch), *cells])
    return align(rows)
