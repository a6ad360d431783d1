"""Configs put back to their schema's types and order after a trip as a protobuf Struct."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

from azuraforge.configs import typed_config

SCHEMA = {
    "type": "object",
    "properties": {
        "learning_rate": {"type": "number"},
        "mnist_dir": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "channels": {"type": "array", "items": {"type": "integer"}},
        "epochs": {"type": "integer"},
        "window": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "optimizer": {
            "type": "object",
            "properties": {"warmup": {"type": "integer"}, "name": {"type": "string"}},
        },
    },
    "x-order": ["epochs", "learning_rate", "channels", "window", "mnist_dir", "optimizer"],
}


def through_a_struct(config: dict[str, Any]) -> dict[str, Any]:
    struct = struct_pb2.Struct()
    struct.update(config)
    return json_format.MessageToDict(struct_pb2.Struct.FromString(struct.SerializeToString()))


def test_a_config_comes_back_as_it_was_sent_ints_and_order_included():
    sent = {
        "epochs": 3,
        "learning_rate": 1.0,
        "channels": [8, 16],
        "window": 4,
        "mnist_dir": None,
        "optimizer": {"warmup": 2, "name": "adam"},
    }
    carried = through_a_struct(sent)
    assert carried["epochs"] == 3.0 and type(carried["epochs"]) is float

    typed = typed_config(carried, SCHEMA)

    assert typed == sent
    assert list(typed) == list(sent)
    assert [type(typed[name]) for name in ("epochs", "learning_rate", "window")] == [
        int,
        float,
        int,
    ]
    assert [type(channel) for channel in typed["channels"]] == [int, int]
    assert typed["optimizer"] == {"warmup": 2, "name": "adam"}
    assert type(typed["optimizer"]["warmup"]) is int


def test_what_the_schema_does_not_describe_stays_as_it_is_after_the_rest():
    typed = typed_config({"extra": 2.0, "epochs": 2.5, "learning_rate": 0.1}, SCHEMA)

    # 2.5 is no integer: left for the reader to see, not rounded.
    assert typed == {"epochs": 2.5, "learning_rate": 0.1, "extra": 2.0}
    assert list(typed) == ["epochs", "learning_rate", "extra"]


def test_without_a_schema_the_config_is_unchanged():
    assert typed_config({"b": 1.0, "a": 2.0}, None) == {"b": 1.0, "a": 2.0}
