"""What may be submitted: the installed pipelines and their config schemas.

The scheduler checks a submission against the same typed schema the trainer will parse, before
storing it, so a mistake is answered at once, naming the field (`config.epochs`), instead of
surfacing minutes later as a failed run. What is stored is the validated config with every
default filled in, so an experiment records exactly the settings it runs with.

The config arrives as a `google.protobuf.Struct`, which can carry what JSON cannot: NaN and
the infinities (a JSON `1e99999` overflows to one). No schema wants them and protobuf's own JSON
mapping fails on them, so they are refused here, naming the field, before anything else reads
the config; so is a config nested deeper than `MAX_CONFIG_DEPTH`, the gateway's limit too.

The scheduler finds pipelines the way `forge run` does, in its own environment: a plugin must be
installed where the scheduler runs as well as on a trainer. One installed while the scheduler
runs is found at the next look (`ListPipelines`, or a submission that names it), editable
installs included (`refresh_installed`). Being able to check a submission does not mean a
trainer can run it: a submission of a pipeline that no live trainer offers is accepted, since a
trainer may register with it later, and `no_trainer_notice` says so in the experiment's log.

Discovery imports every plugin, which is slow the first time and blocks: callers run these
functions in a thread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2

from azuraforge.v1 import experiment_pb2
from forge_learner.config import ConfigError, config_json_schema
from forge_learner.registry import (
    PipelineClass,
    UnknownPipelineError,
    discover_pipelines,
    get_pipeline,
    refresh_installed,
)
from scheduler.errors import BadRequest, FieldError
from scheduler.quoting import shorten
from scheduler.records import TrainerRecord

PIPELINE_SCAN_HINT = (
    "within FORGE_TRAINER_PIPELINE_SCAN_SECONDS (30 s by default) or at once on SIGHUP"
)
"""When a running trainer finds a newly installed pipeline (`trainer.pipelines`)."""

# How deeply a config may nest objects and arrays, itself counted: the gateway's limit too.
# Real configs are two or three levels deep.
MAX_CONFIG_DEPTH = 16


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
        cls = _installed_pipeline(pipeline)
    except UnknownPipelineError as error:
        raise BadRequest.field(
            "pipeline",
            "unknown_pipeline",
            f"{error}. A pipeline plugin is installed where the scheduler runs and on the "
            "trainers that run it (docs/pipelines.md)",
        ) from None
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


def _installed_pipeline(name: str) -> PipelineClass:
    """The pipeline called `name`, looking at what is installed again before saying it is not."""
    try:
        return get_pipeline(name)
    except UnknownPipelineError:
        refresh_installed()
        return get_pipeline(name)


def no_trainer_notice(pipeline: str, live_trainers: Iterable[TrainerRecord]) -> str | None:
    """What to tell the submitter of `pipeline` when none of `live_trainers` offers it."""
    if any(pipeline in trainer.pipelines for trainer in live_trainers):
        return None
    return (
        f"no live trainer runs pipeline {pipeline!r}; the experiment waits until one that does "
        f"registers. Install the pipeline on a trainer, which picks it up {PIPELINE_SCAN_HINT}, "
        "or start a trainer where it is installed (docs/pipelines.md)"
    )


def config_values(config: struct_pb2.Struct) -> dict[str, Any]:
    """The config as the JSON its sender wrote; `BadRequest` naming each value JSON cannot hold.

    A Struct carries every number as a double, so `{"epochs": 3}` arrives as 3.0; whole numbers
    go back to ints, so that an error quotes what the user typed ("got 0", not "got 0.0").
    Float settings accept ints, so nothing is lost.
    """
    errors: list[FieldError] = []
    values = _struct_values(config, "config", 1, errors)
    if errors:
        raise BadRequest(errors, "invalid config")
    return values


def _struct_values(
    struct: struct_pb2.Struct, path: str, depth: int, errors: list[FieldError]
) -> dict[str, Any]:
    if depth > MAX_CONFIG_DEPTH:
        errors.append(
            FieldError(
                path, "too_deep", f"{path}: is nested more than {MAX_CONFIG_DEPTH} levels deep"
            )
        )
        return {}
    return {
        key: _value(value, f"{path}.{shorten(key)}", depth, errors)
        for key, value in struct.fields.items()
    }


def _value(value: struct_pb2.Value, path: str, depth: int, errors: list[FieldError]) -> Any:
    """One value of a Struct at `depth` (the config itself is depth 1) as JSON."""
    match value.WhichOneof("kind"):
        case "number_value":
            number = value.number_value
            if not math.isfinite(number):
                got = json.dumps(number)  # NaN, Infinity or -Infinity
                errors.append(
                    FieldError(path, "finite_number", f"{path}: must be a finite number, got {got}")
                )
                return None
            return int(number) if number.is_integer() else number
        case "string_value":
            return value.string_value
        case "bool_value":
            return value.bool_value
        case "struct_value":
            return _struct_values(value.struct_value, path, depth + 1, errors)
        case "list_value":
            return _list_values(value.list_value, path, depth + 1, errors)
    return None  # null_value, or no kind set, which protobuf's JSON mapping reads as null


def _list_values(
    values: struct_pb2.ListValue, path: str, depth: int, errors: list[FieldError]
) -> list[Any]:
    if depth > MAX_CONFIG_DEPTH:
        errors.append(
            FieldError(
                path, "too_deep", f"{path}: is nested more than {MAX_CONFIG_DEPTH} levels deep"
            )
        )
        return []
    return [
        _value(item, f"{path}.{index}", depth, errors) for index, item in enumerate(values.values)
    ]


def pipeline_infos() -> list[experiment_pb2.PipelineInfo]:
    """Every usable installed pipeline with its summary and config JSON Schema, by name."""
    refresh_installed()
    return [pipeline_info(name, cls) for name, cls in sorted(discover_pipelines().items())]


def pipeline_info(name: str, cls: PipelineClass) -> experiment_pb2.PipelineInfo:
    schema = struct_pb2.Struct()
    schema.update(config_json_schema(cls.Config))
    return experiment_pb2.PipelineInfo(name=name, summary=cls.summary, config_schema=schema)
