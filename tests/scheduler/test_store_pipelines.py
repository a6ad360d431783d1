"""The pipeline catalogue, on SQLite and on Postgres: the latest announcement of a name wins."""

from __future__ import annotations

import threading
from typing import Any

from scheduler.records import PipelineRecord
from scheduler.store import Store
from tests.scheduler.fakes import FakeClock


def schema(epochs_default: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"epochs": {"type": "integer", "default": epochs_default}},
        "x-order": ["epochs"],
    }


def pipeline(name: str, epochs_default: int = 3) -> PipelineRecord:
    return PipelineRecord(name, f"The {name} pipeline.", schema(epochs_default))


def test_a_registration_announces_its_pipelines_with_their_schemas(store: Store):
    trainer = store.register_trainer(
        address="a:1",
        slots=1,
        pipelines=["digits", "stocks"],
        trainer_id="t1",
        announced=[pipeline("stocks"), pipeline("digits")],
    )

    assert trainer.pipelines == ("digits", "stocks")
    assert store.announced_pipelines() == [pipeline("digits"), pipeline("stocks")]
    assert store.announced_pipeline("digits") == pipeline("digits")
    assert store.announced_pipeline("weather") is None


def test_the_latest_announcement_of_a_pipeline_wins(store: Store, clock: FakeClock):
    store.register_trainer(
        address="a:1", slots=1, pipelines=["digits"], announced=[pipeline("digits", 3)]
    )
    clock.advance(10)
    store.register_trainer(
        address="b:1", slots=1, pipelines=["digits"], announced=[pipeline("digits", 7)]
    )

    assert store.announced_pipelines() == [pipeline("digits", 7)]


def test_announced_pipelines_stay_when_their_trainers_go(store: Store):
    store.announce_pipelines([pipeline("digits")], by="tests")
    store.register_trainer(address="a:1", slots=1, pipelines=[], trainer_id="t1")

    assert store.announced_pipelines(["digits", "stocks"]) == [pipeline("digits")]
    assert store.announced_pipelines([]) == []


def test_schedulers_announcing_one_pipeline_at_once_both_succeed(store: Store):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def announce(number: int) -> None:
        barrier.wait()
        try:
            store.announce_pipelines([pipeline("digits", number), pipeline("stocks")], by="x")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=announce, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    (digits, stocks) = store.announced_pipelines()
    assert digits.config_schema["properties"]["epochs"]["default"] in {1, 2, 3, 4}
    assert stocks == pipeline("stocks")
