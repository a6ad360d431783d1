"""Which trainer gets the next experiment: a pure choice, with no I/O, so it is tested alone.

Work spreads over the cluster: the trainer with the most free slots first, then the one running
the fewest experiments, then by id so that the choice is the same every time. A trainer that
refused or was lost a moment ago rests (`resting_until`) and gets nothing meanwhile. Which
pending experiment a trainer gets, among those of the pipelines it runs, is the database's
choice (`Store.claim_pending`), where each is claimed by exactly one scheduler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scheduler.records import TrainerRecord


def free_slots(
    trainers: Iterable[TrainerRecord], *, resting_until: Mapping[str, float], now: float
) -> dict[str, int]:
    """The free slots of each trainer that may take work at `now`, by trainer id.

    Trainers with no free slot, or resting until after `now`, are left out.
    """
    return {
        trainer.id: trainer.free_slots
        for trainer in trainers
        if trainer.free_slots > 0 and resting_until.get(trainer.id, 0.0) <= now
    }


def choose_trainer(
    trainers: Iterable[TrainerRecord], free: Mapping[str, int]
) -> TrainerRecord | None:
    """The trainer to offer the next experiment to, or None when no trainer has a free slot.

    `free` is each trainer's free slots now (see `free_slots`); a trainer missing from it has
    none.
    """
    return max(
        (trainer for trainer in trainers if free.get(trainer.id, 0) > 0),
        key=lambda trainer: (free[trainer.id], -trainer.running, trainer.id),
        default=None,
    )
