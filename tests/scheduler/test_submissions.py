"""Configs arrive as protobuf Structs, which carry every number as a double."""

from typing import Any

from google.protobuf import struct_pb2

from scheduler.submissions import config_values


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
