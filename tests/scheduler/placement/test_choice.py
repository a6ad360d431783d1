"""Which trainer gets the next experiment, decided from records alone (no servers needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler.placement.choice import choose_trainer, free_slots
from scheduler.records import TrainerRecord

SEEN = datetime(2026, 1, 1, tzinfo=UTC)


def trainer(trainer_id: str, *, slots: int, running: int = 0) -> TrainerRecord:
    return TrainerRecord(
        id=trainer_id,
        address=f"{trainer_id}:50052",
        slots=slots,
        pipelines=("sine",),
        registered_at=SEEN,
        last_heartbeat=SEEN,
        running=running,
    )


def test_free_slots_leave_out_full_and_resting_trainers() -> None:
    trainers = [
        trainer("a", slots=2),
        trainer("full", slots=2, running=2),
        trainer("resting", slots=4),
        trainer("rested", slots=3, running=1),
    ]

    free = free_slots(trainers, resting_until={"resting": 11.0, "rested": 10.0}, now=10.0)

    assert free == {"a": 2, "rested": 2}


def test_the_trainer_with_the_most_free_slots_is_chosen() -> None:
    trainers = [trainer("a", slots=2), trainer("b", slots=4, running=1), trainer("c", slots=1)]

    chosen = choose_trainer(trainers, free_slots(trainers, resting_until={}, now=0.0))

    assert chosen is not None and chosen.id == "b"


def test_equal_free_slots_go_to_the_trainer_running_fewer() -> None:
    trainers = [trainer("a", slots=3, running=1), trainer("b", slots=2)]

    chosen = choose_trainer(trainers, {"a": 2, "b": 2})

    assert chosen is not None and chosen.id == "b"


def test_a_tie_is_broken_by_id_so_the_choice_never_varies() -> None:
    trainers = [trainer("b", slots=2), trainer("c", slots=2), trainer("a", slots=2)]

    chosen = choose_trainer(trainers, {"a": 2, "b": 2, "c": 2})

    assert chosen is not None and chosen.id == "c"


def test_free_slots_given_decide_over_the_records() -> None:
    # Placement counts down what it handed out this round without reading the records again.
    trainers = [trainer("a", slots=4), trainer("b", slots=3)]

    chosen = choose_trainer(trainers, {"a": 1, "b": 3})

    assert chosen is not None and chosen.id == "b"


def test_work_spreads_over_the_cluster_one_experiment_at_a_time() -> None:
    trainers = [trainer("a", slots=2), trainer("b", slots=3)]
    free = free_slots(trainers, resting_until={}, now=0.0)
    order = []
    while (chosen := choose_trainer(trainers, free)) is not None:
        order.append(chosen.id)
        free[chosen.id] -= 1

    assert order == ["b", "b", "a", "b", "a"]


def test_no_trainer_is_chosen_when_none_has_a_free_slot() -> None:
    trainers = [trainer("full", slots=1, running=1), trainer("absent", slots=2)]

    assert choose_trainer(trainers, {"full": 0}) is None
    assert choose_trainer([], {}) is None
