"""Configs arrive as protobuf Structs, which carry every number as a double; a submission no
live trainer can run is told so."""

from datetime import UTC, datetime
from typing import Any

from google.protobuf import struct_pb2

from scheduler.records import TrainerRecord
from scheduler.submissions import config_values, no_trainer_notice


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message


def test_whole_numbers_come_back_as_the_ints_the_sender_wrote():
    config = struct({"epochs": 0, "layers": [32, 16], "optimizer": {"warmup": 2}})

    values = config_values(config)

    assert values == {"epochs": 0, "layers": [32, 16], "optimizer": {"warmup": 2}}
    assert type(values["epochs"]) is int


def test_fractions_strings_and_booleans_stay_as_they_are():
    config = struct({"learning_rate": 0.001, "source": "sample", "log": True, "gap": None})

    assert config_values(config) == {
        "learning_rate": 0.001,
        "source": "sample",
        "log": True,
        "gap": None,
    }


def trainer(*pipelines: str) -> TrainerRecord:
    now = datetime.now(UTC)
    return TrainerRecord("t1", "127.0.0.1:1", 1, pipelines, now, now, 0)


def test_a_pipeline_no_live_trainer_offers_gets_a_notice_saying_what_to_do():
    notice = no_trainer_notice("tiny", [trainer("other")])

    assert notice is not None
    assert notice.startswith("no live trainer runs pipeline 'tiny'; the experiment waits")
    assert "Install the pipeline on a trainer" in notice
    assert no_trainer_notice("tiny", []) == notice
    assert no_trainer_notice("tiny", [trainer("other"), trainer("tiny")]) is None
