"""A sweep's space is checked against the JSON Schema, naming the setting and the rule."""

from typing import Any

import pytest

from scheduler.errors import BadRequest
from scheduler.sweeps.space import Choice, IntRange, Uniform, parse_space

SCHEMA: dict[str, Any] = {
    "properties": {
        "epochs": {"type": "integer", "minimum": 1},
        "learning_rate": {"type": "number", "exclusiveMinimum": 0.0, "maximum": 10.0},
        "hidden_size": {"type": "integer", "minimum": 1, "maximum": 4096},
        "dropout": {"type": "number", "minimum": 0.0, "maximum": 0.9},
        "scaling": {"type": "string", "enum": ["standard", "minmax", "none"]},
        "calendar_features": {"type": "boolean"},
    }
}


def refusal(space: dict[str, Any]) -> tuple[str, str, str]:
    with pytest.raises(BadRequest) as caught:
        parse_space(space, SCHEMA)
    (error,) = caught.value.errors
    return error.field, error.rule, error.message


def test_each_kind_is_read_and_the_settings_ordered_by_name():
    space = parse_space(
        {
            "learning_rate": {"loguniform": [0.0005, 0.05]},
            "hidden_size": {"choice": [4, 16, 32]},
            "dropout": {"uniform": [0, 0.5]},
            "scaling": {"choice": ["standard", "none"]},
        },
        SCHEMA,
    )

    assert list(space) == ["dropout", "hidden_size", "learning_rate", "scaling"]
    assert space["learning_rate"] == Uniform(0.0005, 0.05, log=True)
    assert space["hidden_size"] == Choice((4, 16, 32))
    assert space["dropout"] == Uniform(0.0, 0.5)
    assert parse_space({"hidden_size": {"int": [1, 4]}}, SCHEMA)["hidden_size"] == IntRange(1, 4)


@pytest.mark.parametrize(
    ("space", "rule", "words"),
    [
        ({"learning_rate": {"loguniform": [0, 0.05]}}, "loguniform_positive", "lo > 0"),
        ({"learning_rate": {"uniform": [0.1, 20]}}, "less_than_equal", "<= 10.0"),
        ({"learning_rate": {"uniform": [0, 1]}}, "greater_than", "> 0.0"),
        ({"learning_rate": {"uniform": [0.5, 0.1]}}, "range", "lo <= hi"),
        ({"learning_rate": {"uniform": [0.1]}}, "range", "[lo, hi]"),
        ({"learning_rate": {"normal": [0, 1]}}, "space_kind", "must be one of"),
        ({"learning_rate": [0.1, 0.2]}, "space_kind", "must be one of"),
        ({"hidden_size": {"uniform": [4, 32]}}, "type", "whole number"),
        ({"hidden_size": {"int": [1.5, 4]}}, "int_type", "whole numbers"),
        ({"hidden_size": {"choice": [4, 0]}}, "greater_than_equal", ">= 1"),
        ({"hidden_size": {"choice": [4, "big"]}}, "type", "'big' is not of the setting's type"),
        ({"hidden_size": {"choice": []}}, "choice_empty", "non-empty"),
        ({"scaling": {"choice": ["standard", "log"]}}, "enum", "'log' is not one of"),
        ({"calendar_features": {"choice": [True, 1]}}, "type", "boolean"),
        ({"epochs": {"int": [1, 9]}}, "not_searchable", "each trial's budget"),
        ({"hiden_size": {"int": [1, 9]}}, "unknown_setting", "no setting 'hiden_size'"),
    ],
)
def test_a_bad_setting_is_refused_naming_it_and_the_rule(space, rule, words):
    field, got_rule, message = refusal(space)

    assert field == f"space.{next(iter(space))}"
    assert got_rule == rule
    assert message.startswith(f"{field}: ")
    assert words in message


def test_every_bad_setting_is_named_at_once():
    with pytest.raises(BadRequest) as caught:
        parse_space(
            {"learning_rate": {"loguniform": [0, 1]}, "dropout": {"uniform": [0, 2]}}, SCHEMA
        )

    assert [e.field for e in caught.value.errors] == ["space.dropout", "space.learning_rate"]


def test_an_empty_space_says_what_to_write():
    with pytest.raises(BadRequest) as caught:
        parse_space({}, SCHEMA)

    assert caught.value.errors[0].field == "space"
    assert "loguniform" in caught.value.errors[0].message
