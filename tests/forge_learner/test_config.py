"""Config schemas: defaults, field-named errors, CLI strings and the exported JSON Schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forge_learner.config import (
    JSON_SCHEMA_DIALECT,
    ConfigError,
    Epochs,
    FieldError,
    PipelineConfig,
    config_json_schema,
    describe_config,
    nest_dotted,
    parse_assignments,
    parse_config,
    parse_config_strings,
)

SHARED = ["epochs", "batch_size", "learning_rate", "seed", "checkpoint_every"]


class Layers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=8, ge=1)


class ForecastConfig(PipelineConfig):
    """Settings of a forecaster used by these tests."""

    epochs: Epochs = 50
    cell: Literal["lstm", "gru"] = Field(default="lstm", description="Recurrent layer type.")
    layers: Literal[1, 2, 3] = 1
    window: int = Field(default=24, ge=2, le=365, description="Past steps the model sees.")
    sizes: list[int] = Field(default_factory=lambda: [32])
    ticker: str = "AAPL"
    limit: int | None = None
    normalise: bool = True
    head: Layers = Layers()


def errors_of(schema: type[PipelineConfig], raw: dict[str, object]) -> list[FieldError]:
    with pytest.raises(ConfigError) as error_info:
        parse_config(schema, raw)
    return error_info.value.errors


def test_the_shared_fields_have_defaults_that_validate() -> None:
    config = parse_config(PipelineConfig, {})

    assert list(PipelineConfig.model_fields) == SHARED
    assert (config.epochs, config.batch_size, config.learning_rate, config.seed) == (
        10,
        32,
        1e-3,
        0,
    )


def test_a_pipeline_changes_a_shared_default_and_keeps_its_bounds_and_help() -> None:
    config = parse_config(ForecastConfig, {})
    (error,) = errors_of(ForecastConfig, {"epochs": 0})

    assert config.epochs == 50
    assert error.rule == "greater_than_equal"
    assert ForecastConfig.model_fields["epochs"].description == "Passes over the training data."


@pytest.mark.parametrize(
    ("raw", "field", "rule", "message"),
    [
        ({"epochs": 0}, "epochs", "greater_than_equal", "epochs: must be at least 1, got 0"),
        ({"window": 400}, "window", "less_than_equal", "window: must be at most 365, got 400"),
        (
            {"learning_rate": 0},
            "learning_rate",
            "greater_than",
            "learning_rate: must be greater than 0.0, got 0",
        ),
        (
            {"cell": "rnn"},
            "cell",
            "literal_error",
            "cell: must be 'lstm' or 'gru', got 'rnn'",
        ),
        (
            {"batch_size": "many"},
            "batch_size",
            "int_parsing",
            "batch_size: must be a whole number, got 'many'",
        ),
        (
            {"epochs": 2.5},
            "epochs",
            "int_from_float",
            "epochs: must be a whole number, got 2.5",
        ),
        (
            {"learning_rate": float("nan")},
            "learning_rate",
            "finite_number",
            "learning_rate: must be a finite number, got NaN",
        ),
        ({"normalise": "maybe"}, "normalise", "bool_parsing", None),
        ({"head": {"width": 0}}, "head.width", "greater_than_equal", None),
    ],
)
def test_an_error_names_the_field_and_the_rule(
    raw: dict[str, object], field: str, rule: str, message: str | None
) -> None:
    (error,) = errors_of(ForecastConfig, raw)

    assert (error.field, error.rule) == (field, rule)
    assert error.message.startswith(f"{field}: ")
    if message is not None:
        assert error.message == message


def test_an_unknown_key_is_named_with_a_suggestion_and_the_valid_keys() -> None:
    (error,) = errors_of(ForecastConfig, {"learning_rat": 0.1})

    assert (error.field, error.rule) == ("learning_rat", "extra_forbidden")
    assert "did you mean 'learning_rate'?" in error.message
    assert "valid settings are batch_size, cell, checkpoint_every, epochs, head" in error.message


def test_an_unknown_nested_key_lists_the_nested_settings() -> None:
    (error,) = errors_of(ForecastConfig, {"head": {"widht": 3}})

    assert error.field == "head.widht"
    assert error.message.endswith("did you mean 'width'? valid settings are width")


def test_every_error_is_reported_and_the_message_lists_them() -> None:
    with pytest.raises(ConfigError) as error_info:
        parse_config(ForecastConfig, {"epochs": -1, "cell": "x", "extra": 1})

    error = error_info.value
    assert [e.field for e in error.errors] == ["epochs", "cell", "extra"]
    assert isinstance(error, ValueError)
    lines = str(error).splitlines()
    assert lines[0] == "invalid ForecastConfig (3 error(s)):"
    assert lines[1:] == [f"  {e.message}" for e in error.errors]


def test_a_required_field_without_a_default_is_reported_as_missing() -> None:
    class NeedsPath(PipelineConfig):
        path: str

    (error,) = errors_of(NeedsPath, {})

    assert (error.field, error.rule) == ("path", "missing")


def test_configs_are_frozen() -> None:
    config = parse_config(ForecastConfig, {})

    with pytest.raises(ValidationError):
        config.epochs = 3


def test_a_bad_default_fails_at_the_first_parse() -> None:
    class BadDefault(PipelineConfig):
        epochs: Epochs = 0

    (error,) = errors_of(BadDefault, {})

    assert error.field == "epochs"


# ----- strings from the CLI -----


def test_strings_coerce_through_lax_mode() -> None:
    config = parse_config_strings(
        ForecastConfig,
        {"epochs": "5", "learning_rate": "1e-2", "normalise": "false", "ticker": "123"},
    )

    assert (config.epochs, config.learning_rate, config.normalise) == (5, 0.01, False)
    assert config.ticker == "123"


def test_strings_that_only_fit_as_json_are_read_as_json() -> None:
    config = parse_config_strings(
        ForecastConfig, {"layers": "2", "sizes": "[64, 32]", "limit": "null", "head.width": "4"}
    )

    assert (config.layers, config.sizes, config.limit, config.head.width) == (2, [64, 32], None, 4)


def test_bad_strings_name_the_field() -> None:
    with pytest.raises(ConfigError) as error_info:
        parse_config_strings(
            ForecastConfig, {"epochs": "zero", "layers": "4", "sizes": '[1, "x"]', "nope": "1"}
        )

    assert [(e.field, e.rule) for e in error_info.value.errors] == [
        ("epochs", "int_parsing"),
        ("layers", "literal_error"),
        ("sizes.1", "int_parsing"),
        ("nope", "extra_forbidden"),
    ]
    assert error_info.value.errors[0].message == "epochs: must be a whole number, got 'zero'"


def test_assignments_split_at_the_first_equals_sign_and_the_last_one_wins() -> None:
    assert parse_assignments(["epochs=5", "query=a=b", "epochs=7", "ticker="]) == {
        "epochs": "7",
        "query": "a=b",
        "ticker": "",
    }


@pytest.mark.parametrize("item", ["epochs", "=5"])
def test_an_assignment_without_a_key_and_value_is_an_error(item: str) -> None:
    with pytest.raises(ConfigError) as error_info:
        parse_assignments([item])

    (error,) = error_info.value.errors
    assert error.rule == "assignment_syntax"
    assert "KEY=VALUE" in error.message


# ----- JSON Schema and the field listing -----


def test_json_schema_is_draft_2020_12_with_title_description_defaults_bounds_choices() -> None:
    schema = config_json_schema(ForecastConfig)
    props = schema["properties"]

    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert schema["title"] == "ForecastConfig"
    assert schema["description"] == "Settings of a forecaster used by these tests."
    assert schema["additionalProperties"] is False
    assert list(props)[: len(SHARED)] == SHARED
    epochs = props["epochs"]
    assert (epochs["type"], epochs["default"], epochs["minimum"]) == ("integer", 50, 1)
    assert props["learning_rate"]["exclusiveMinimum"] == 0.0
    assert props["cell"]["enum"] == ["lstm", "gru"]
    assert props["window"]["description"] == "Past steps the model sees."


class GroupedConfig(ForecastConfig):
    """A subclass that places its parent's fields and one of its own in the form."""

    field_groups: ClassVar[Mapping[str, str]] = {"cell": "Model", "window": "Data"}
    advanced_fields: ClassVar[frozenset[str]] = frozenset({"normalise"})

    dropout: float = Field(
        default=0.0, ge=0.0, le=0.9, json_schema_extra={"x-group": "Model", "x-advanced": True}
    )


def test_json_schema_carries_the_forms_order_groups_and_advanced_fields() -> None:
    schema = config_json_schema(GroupedConfig)
    props = schema["properties"]

    # A Struct keeps no key order, so the order travels as a list.
    assert schema["x-order"] == list(props)
    assert schema["x-order"][: len(SHARED) + 2] == [*SHARED, "cell", "layers"]
    assert schema["x-order"][-1] == "dropout"
    assert schema["x-groups"] == ["Training", "Data", "Model", "Other"]
    assert {name: props[name]["x-group"] for name in ("epochs", "cell", "window", "ticker")} == {
        "epochs": "Training",
        "cell": "Model",
        "window": "Data",
        "ticker": "Other",
    }
    advanced = {name for name, prop in props.items() if prop["x-advanced"]}
    assert advanced == {"seed", "checkpoint_every", "normalise", "dropout"}
    # The layout is not a setting: a submission still validates against the properties alone.
    assert "field_groups" not in props and "advanced_fields" not in props
    assert parse_config(GroupedConfig, {"cell": "gru"}).cell == "gru"


def test_describe_config_lists_type_default_bounds_choices_and_help() -> None:
    fields = {field.name: field for field in describe_config(ForecastConfig)}

    assert list(fields)[: len(SHARED)] == SHARED
    assert (fields["epochs"].type, fields["epochs"].default) == ("int", 50)
    assert fields["epochs"].bounds == ">= 1, <= 100000"
    assert fields["learning_rate"].bounds == "> 0.0, <= 10.0"
    assert fields["cell"].choices == ("lstm", "gru")
    assert fields["cell"].help == "Recurrent layer type."
    assert fields["sizes"].type == "list of int"
    assert fields["limit"].type == "int or null"
    assert fields["head"].type == "Layers"
    assert not fields["window"].required


def test_dotted_keys_nest() -> None:
    nested = nest_dotted({"model.width": 64, "model.depth": 2, "epochs": 3})

    assert nested == {"model": {"width": 64, "depth": 2}, "epochs": 3}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": 3, "model.width": 4}, "model.width: model is set to a value and cannot"),
        ({"model.width": 4, "model": 3}, "model: model has fields set and cannot be a value"),
        ({"a.b": 1, "a.b.c": 2}, "a.b.c: a.b is set to a value and cannot have fields"),
    ],
)
def test_a_name_given_a_value_and_fields_is_refused_naming_it(
    raw: dict[str, int], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        nest_dotted(raw)

    (error,) = refused.value.errors
    assert error.message.startswith(message)
    assert error.rule == "dotted_key_clash"
