"""The scheduler's check of a config against an announced JSON Schema answers as the pipeline's
typed config does.

The schemas are the ones a trainer announces: built by `forge_learner` from a typed config and
sent through a `google.protobuf.Struct`, as RegisterTrainer carries them. Each config is
checked both ways, by pydantic (what the trainer will parse) and by the scheduler, and the
answers must agree: the fields and rules of every error and their messages, or the completed
config with its defaults, types and order.
"""

from __future__ import annotations

from typing import Any, Literal

import pytest
from google.protobuf import json_format, struct_pb2
from pydantic import BaseModel, ConfigDict, Field

from forge_learner.config import ConfigError, PipelineConfig, config_json_schema, parse_config
from forge_learner.registry import discover_pipelines
from scheduler.schemas import (
    completed_config,
    config_errors,
    lax_values,
    schema_from_struct,
    schema_problem,
)
from scheduler.submissions import config_values


class Layer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    width: int = Field(default=16, ge=1, le=512)
    activation: Literal["relu", "tanh"] = "relu"


class ParityConfig(PipelineConfig):
    layers: list[int] = Field(default=[32, 16], min_length=1, max_length=4)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    mode: Literal["a", "b"] = "a"
    heads: Literal[1, 2, 4] = 1
    normalize: bool = True
    data_dir: str | None = Field(default=None, min_length=1)
    hidden: Layer = Layer()


def announced(config: type[PipelineConfig]) -> dict[str, Any]:
    """The config's schema as the scheduler receives and keeps it."""
    message = struct_pb2.Struct()
    message.update(config_json_schema(config))
    schema = schema_from_struct(json_format.MessageToDict(message))
    assert schema_problem(schema) is None
    return dict(schema)


def sent(values: dict[str, Any]) -> dict[str, Any]:
    """`values` as the scheduler reads them from a submission's Struct."""
    message = struct_pb2.Struct()
    message.update(values)
    return config_values(message)


def by_pydantic(config: type[PipelineConfig], values: dict[str, Any]) -> Any:
    try:
        return parse_config(config, values).model_dump(mode="json")
    except ConfigError as error:
        return [(f"config.{e.field}", e.rule, e.message) for e in error.errors]


def by_scheduler(schema: dict[str, Any], values: dict[str, Any]) -> Any:
    lax = lax_values(schema, values)
    errors = config_errors(schema, lax)
    if errors:
        return [(e.field, e.rule, e.message) for e in errors]
    return completed_config(schema, lax)


CASES: list[dict[str, Any]] = [
    {},
    {"epochs": "4", "learning_rate": "1e-3", "dropout": "0.5", "normalize": "yes"},
    {"epochs": True, "normalize": 0, "learning_rate": 1},
    {"epochs": 0},
    {"epochs": 1.5},
    {"epochs": "x"},
    {"learning_rate": 0},
    {"dropout": 1},
    {"mode": "c"},
    {"mode": None},
    {"heads": 3},
    {"heads": "2"},
    {"normalize": 2},
    {"data_dir": ""},
    {"data_dir": 5},
    {"data_dir": "runs"},
    {"hidden": {"width": 0}},
    {"hidden": {"widht": 3}},
    {"hidden": {"width": 64}},
    {"hidden": 3},
    {"layers": []},
    {"layers": [1, 2, 3, 4, 5]},
    {"layers": [1, "x"]},
    {"layers": "x"},
    {"epoch": 3},
    {"seed": -1, "epochs": 0, "mode": "c"},
]


@pytest.mark.parametrize("values", CASES, ids=[str(case) for case in CASES])
def test_the_scheduler_answers_as_the_typed_config(values: dict[str, Any]):
    expected = by_pydantic(ParityConfig, sent(values))

    answered = by_scheduler(announced(ParityConfig), sent(values))

    assert answered == expected
    if isinstance(expected, dict):
        assert list(answered) == list(expected)  # the schema's order
        assert [type(value) for value in answered.values()] == [
            type(value) for value in expected.values()
        ]


@pytest.mark.parametrize("pipeline", ["image_classifier", "stock_predictor", "weather_forecaster"])
def test_the_bundled_pipelines_defaults_and_mistakes_agree(pipeline: str):
    config = discover_pipelines()[pipeline].Config
    schema = announced(config)

    for values in ({}, {"epochs": 0, "batch_size": "x", "epoks": 1}, {"test_fraction": 0.9}):
        assert by_scheduler(schema, sent(values)) == by_pydantic(config, sent(values)), values


def test_each_unknown_key_is_named_with_the_closest_setting():
    errors = config_errors(announced(ParityConfig), {"epoch": 1, "zz": 2})

    assert [(e.field, e.rule) for e in errors] == [
        ("config.epoch", "extra_forbidden"),
        ("config.zz", "extra_forbidden"),
    ]
    assert errors[0].message.startswith("epoch: unknown setting; did you mean 'epochs'?")


def test_a_date_is_checked():
    schema = announced(discover_pipelines()["stock_predictor"].Config)

    errors = config_errors(schema, {"start": "2020-13-01"})

    assert [(e.field, e.rule) for e in errors] == [("config.start", "date_from_datetime_parsing")]
    assert config_errors(schema, {"start": "2020-12-01"}) == []


def test_whole_numbers_of_a_struct_schema_come_back_as_ints():
    assert schema_from_struct({"minimum": 1.0, "enum": [1.0, 2.5], "default": [8.0]}) == {
        "minimum": 1,
        "enum": [1, 2.5],
        "default": [8],
    }


@pytest.mark.parametrize(
    ("schema", "said"),
    [
        ({"type": "object", "properties": {"a": {"type": "no-such-type"}}}, "not a JSON Schema"),
        ({"type": "object", "minProperties": -1}, "not a JSON Schema"),
        ({"type": "array"}, '"type": "object"'),
        ({}, '"type": "object"'),
        (
            {"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
            "referring outside itself",
        ),
    ],
)
def test_a_schema_that_cannot_check_a_config_is_named(schema: dict[str, Any], said: str):
    problem = schema_problem(schema)

    assert problem is not None and said in problem
