"""What may be submitted: the installed pipelines and their config schemas.

The scheduler checks a submission against the same typed schema the trainer will parse, before
storing it, so a mistake is answered at once, naming the field (`config.epochs`), instead of
surfacing minutes later as a failed run. What is stored is the validated config with every
default filled in, so an experiment records exactly the settings it runs with.

Discovery imports every plugin, which is slow the first time and blocks: callers run these
functions in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from azuraforge.v1 import experiment_pb2
from forge_learner.config import ConfigError, FieldError, config_json_schema
from forge_learner.registry import (
    PipelineClass,
    UnknownPipelineError,
    discover_pipelines,
    get_pipeline,
)
from scheduler.errors import BadRequest


@dataclass(frozen=True)
class Submission:
    """A checked submission, ready to be stored."""

    pipeline: str
    config: dict[str, Any]
    total_epochs: int


def check_submission(pipeline: str, config: struct_pb2.Struct) -> Submission:
    """`pipeline` and `config` checked against the installed pipeline; else `BadRequest`."""
    if not pipeline:
        raise BadRequest.field(
            "pipeline", "missing", "pipeline is empty: name one (ListPipelines lists them)"
        )
    try:
        cls = get_pipeline(pipeline)
    except UnknownPipelineError as error:
        raise BadRequest.field("pipeline", "unknown_pipeline", str(error)) from None
    try:
        parsed = cls.parse_config(config_values(config))
    except ConfigError as error:
        raise BadRequest(
            [FieldError(f"config.{e.field}", e.rule, e.message) for e in error.errors],
            f"invalid config for pipeline {pipeline!r}",
        ) from None
    values = parsed.model_dump(mode="json")
    epochs = values.get("epochs")
    return Submission(pipeline, values, epochs if isinstance(epochs, int) else 0)


def config_values(config: struct_pb2.Struct) -> dict[str, Any]:
    """The config as the JSON its sender wrote.

    A Struct carries every number as a double, so `{"epochs": 3}` arrives as 3.0; whole numbers
    go back to ints, so that an error quotes what the user typed ("got 0", not "got 0.0").
    Float settings accept ints, so nothing is lost.
    """
    values: dict[str, Any] = _whole_numbers_as_ints(json_format.MessageToDict(config))
    return values


def _whole_numbers_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_ints(item) for item in value]
    return value


def pipeline_infos() -> list[experiment_pb2.PipelineInfo]:
    """Every usable installed pipeline with its summary and config JSON Schema, by name."""
    return [pipeline_info(name, cls) for name, cls in sorted(discover_pipelines().items())]


def pipeline_info(name: str, cls: PipelineClass) -> experiment_pb2.PipelineInfo:
    schema = struct_pb2.Struct()
    schema.update(config_json_schema(cls.Config))
    return experiment_pb2.PipelineInfo(name=name, summary=cls.summary, config_schema=schema)
