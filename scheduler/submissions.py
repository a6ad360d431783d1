"""What may be submitted: the pipelines trainers announced, checked against their schemas.

The scheduler runs no pipeline code and needs none installed: each trainer announces the
pipelines it runs, with their config JSON Schemas, when it registers (`scheduler.registrations`),
and the catalogue in the database keeps the latest schema announced for each name
(`scheduler.store.pipelines`). `check_submission` checks a submission against it before storing
it, so a mistake is answered at once, naming the field (`config.epochs`), instead of surfacing
minutes later as a failed run; `scheduler.schemas` says how, and that the answers are those of
the pipeline's own typed config. What is stored is the config with every default filled in,
so an experiment records exactly the settings it runs with.

The config arrives as a `google.protobuf.Struct`, which can carry what JSON cannot: NaN and
the infinities (a JSON `1e99999` overflows to one). No schema wants them and protobuf's own JSON
mapping fails on them, so they are refused here, naming the field, before anything else reads
the config; so is a config nested deeper than `MAX_CONFIG_DEPTH`, the gateway's limit too.

Which pipelines may be submitted:

- one no trainer ever announced is refused, naming `pipeline` (`unknown_pipeline`): install it
  on a trainer, which announces it when it registers again (`PIPELINE_SCAN_HINT`);
- one announced before, whose trainers are all gone now, is accepted and checked against the
  schema last announced: a trainer may register with it again. `no_trainer_notice` says in the
  experiment's log that it waits, as it does for any pipeline no live trainer offers.

The catalogue is read from the database, which several schedulers may share: these functions
block, and the servicers call them in a thread.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf import struct_pb2

from scheduler.errors import BadRequest, FieldError
from scheduler.quoting import quote, shorten
from scheduler.records import PipelineRecord, TrainerRecord
from scheduler.schemas import completed_config, config_errors, lax_values

PIPELINE_SCAN_HINT = (
    "within FORGE_TRAINER_PIPELINE_SCAN_SECONDS (30 s by default) or at once on SIGHUP"
)
"""When a running trainer finds a newly installed pipeline (`trainer.pipelines`)."""

# How deeply a config may nest objects and arrays, itself counted: the gateway's limit too.
# Real configs are two or three levels deep.
MAX_CONFIG_DEPTH = 16


class Catalogue(Protocol):
    """Where the announced pipelines are kept: `scheduler.store.Store`."""

    def announced_pipeline(self, name: str) -> PipelineRecord | None: ...

    def announced_pipelines(self) -> list[PipelineRecord]: ...


@dataclass(frozen=True)
class Submission:
    """A checked submission, ready to be stored."""

    pipeline: str
    config: dict[str, Any]
    total_epochs: int


def check_submission(catalogue: Catalogue, pipeline: str, config: struct_pb2.Struct) -> Submission:
    """`pipeline` and `config` checked against the schema trainers announced; else `BadRequest`.

    The one check of a config to run: every path that starts an experiment goes through it.
    """
    if not pipeline:
        raise BadRequest.field(
            "pipeline", "missing", "pipeline is empty: name one (ListPipelines lists them)"
        )
    announced = catalogue.announced_pipeline(pipeline)
    if announced is None:
        raise BadRequest.field("pipeline", "unknown_pipeline", _unknown(pipeline, catalogue))
    schema = announced.config_schema
    values = lax_values(schema, config_values(config))
    errors = config_errors(schema, values)
    if errors:
        raise BadRequest(errors, f"invalid config for pipeline {quote(pipeline)}")
    completed = completed_config(schema, values)
    epochs = completed.get("epochs")
    return Submission(pipeline, completed, epochs if isinstance(epochs, int) else 0)


def _unknown(pipeline: str, catalogue: Catalogue) -> str:
    names = [announced.name for announced in catalogue.announced_pipelines()]
    listed = ", ".join(names) or "none yet"
    return (
        f"unknown pipeline {quote(pipeline)}: no trainer has announced it (announced: {listed}). "
        f"Install the pipeline on a trainer, which announces it {PIPELINE_SCAN_HINT}, or start "
        "a trainer where it is installed (docs/pipelines.md)"
    )


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
