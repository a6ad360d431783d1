"""What a trainer may register with, checked before anything is stored.

Each rule names its field, so a trainer with a bad setting (or a client typing a request by hand
with grpcurl) is told which one, as any other caller is (`scheduler.errors`). The pipelines it
announces come with their config schemas, which the scheduler will check submissions against:
each must be a JSON Schema of an object, or the registration is refused naming it
(`pipelines.0.config_schema`), rather than every submission of the pipeline failing later.
"""

from __future__ import annotations

from google.protobuf import json_format

from azuraforge.v1 import scheduler_pb2
from scheduler.db.models import PIPELINE_LENGTH, TRAINER_ID_LENGTH
from scheduler.errors import BadRequest, FieldError
from scheduler.quoting import quote
from scheduler.records import PipelineRecord
from scheduler.schemas import schema_from_struct, schema_problem


def check_registration(request: scheduler_pb2.RegisterTrainerRequest) -> list[PipelineRecord]:
    """The pipelines `request` announces; `BadRequest` naming the first field the scheduler
    cannot use."""
    if not request.address:
        raise BadRequest.field(
            "address", "missing", "address is empty: give host:port where the trainer listens"
        )
    if request.slots < 1:
        raise BadRequest.field(
            "slots", "invalid", f"a trainer needs at least one slot, not {request.slots}"
        )
    if len(request.trainer_id) > TRAINER_ID_LENGTH:
        raise BadRequest.field(
            "trainer_id", "invalid", f"a trainer id has at most {TRAINER_ID_LENGTH} characters"
        )
    return announced_pipelines(request)


def announced_pipelines(request: scheduler_pb2.RegisterTrainerRequest) -> list[PipelineRecord]:
    """The request's pipelines as the catalogue keeps them; `BadRequest` naming each bad one."""
    errors: list[FieldError] = []
    announced: dict[str, PipelineRecord] = {}
    for index, info in enumerate(request.pipelines):
        field = f"pipelines.{index}"
        if not info.name or len(info.name) > PIPELINE_LENGTH:
            errors.append(
                FieldError(
                    f"{field}.name",
                    "invalid",
                    f"{field}.name: a pipeline's name has 1 to {PIPELINE_LENGTH} characters, "
                    f"got {quote(info.name)}",
                )
            )
            continue
        if info.name in announced:
            errors.append(
                FieldError(
                    f"{field}.name",
                    "duplicate",
                    f"{field}.name: pipeline {quote(info.name)} is announced twice",
                )
            )
            continue
        schema = schema_from_struct(json_format.MessageToDict(info.config_schema))
        problem = schema_problem(schema)
        if problem is not None:
            errors.append(
                FieldError(
                    f"{field}.config_schema",
                    "invalid_schema",
                    f"{field}.config_schema: the config schema of pipeline {quote(info.name)} "
                    f"is {problem}",
                )
            )
            continue
        announced[info.name] = PipelineRecord(info.name, info.summary, schema)
    if errors:
        raise BadRequest(errors, "invalid pipelines")
    return list(announced.values())
