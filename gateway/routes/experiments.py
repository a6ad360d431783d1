"""Experiments: submit one, list them, look at one, cancel one.

`POST experiments` takes `{"pipeline": NAME, "config": {...}, "max_restarts": N}` (`N` optional,
0 to 100: how often a lost run is placed again); the scheduler validates the config against the
pipeline's schema and a bad field comes back as 422 naming it (`details[].field`, e.g.
`config.epochs`). `GET experiments` pages newest first with
`page_size` and `page_token` (from the previous page's `next_page_token`) and filters by
`status` (repeatable, or comma-separated: `running`, `RUNNING` or `EXPERIMENT_STATUS_RUNNING`)
and `pipeline`. Another user's experiment answers 404, as one that does not exist.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from google.protobuf import struct_pb2

from azuraforge.v1 import experiment_pb2, scheduler_pb2
from gateway.configs import with_typed_configs
from gateway.errors import invalid, quote
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.request import (
    credentials,
    integer_query,
    json_object,
    optional_string,
    optional_whole_number,
)

routes = web.RouteTableDef()

SUBMISSION_FIELDS = frozenset({"pipeline", "config", "max_restarts"})
# The scheduler's bound on `SubmitExperimentRequest.max_restarts`, checked here too so that a
# bad value is a 422 before any call.
MAX_RESTARTS = 100
MAX_PAGE_SIZE = 500
# Each JSON level is two levels of `google.protobuf.Struct`, and protobuf refuses to parse a
# message nested past 100; real configs are two or three levels deep.
MAX_CONFIG_DEPTH = 16
STATUS_PREFIX = "EXPERIMENT_STATUS_"
# Short names (`running`) to the enum's names, which the request message takes as they are.
STATUSES = {
    name.removeprefix(STATUS_PREFIX).lower(): name
    for name, number in experiment_pb2.ExperimentStatus.items()
    if number != experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED
}


@routes.post(f"{API}/experiments")
async def submit_experiment(request: web.Request) -> web.Response:
    metadata = credentials(request)
    data = await json_object(request, SUBMISSION_FIELDS)
    pipeline = optional_string(data, "pipeline")
    if not pipeline:
        raise invalid("pipeline", "is required: the name of an installed pipeline")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise invalid("config", "must be a JSON object of the pipeline's settings")
    if _depth(config, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH:
        raise invalid("config", f"is nested more than {MAX_CONFIG_DEPTH} levels deep")
    config_struct = struct_pb2.Struct()
    try:
        config_struct.update(config)
    except (ValueError, OverflowError) as error:
        raise invalid("config", f"has a value protobuf cannot carry ({error})") from None
    max_restarts = optional_whole_number(data, "max_restarts", 0, MAX_RESTARTS)
    stubs = scheduler(request)
    response = await stubs.scheduler.SubmitExperiment(
        # None leaves the field unset: the scheduler's default.
        scheduler_pb2.SubmitExperimentRequest(
            pipeline=pipeline, config=config_struct, max_restarts=max_restarts
        ),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    experiment = response.experiment
    body = to_json(experiment)
    await with_typed_configs(request, metadata, [body])
    return web.json_response(
        body,
        status=HTTPStatus.CREATED,
        headers={"Location": f"{API}/experiments/{experiment.experiment_id}"},
    )


@routes.get(f"{API}/experiments")
async def list_experiments(request: web.Request) -> web.Response:
    metadata = credentials(request)
    query = scheduler_pb2.ListExperimentsRequest(
        page_size=integer_query(request, "page_size", 1, MAX_PAGE_SIZE) or 0,
        page_token=request.query.get("page_token", ""),
        statuses=_statuses(request.query.getall("status", [])),
        pipeline=request.query.get("pipeline", ""),
    )
    stubs = scheduler(request)
    response = await stubs.scheduler.ListExperiments(
        query, metadata=metadata, timeout=stubs.timeout
    )
    body = to_json(response)
    await with_typed_configs(request, metadata, body["experiments"])
    return web.json_response(body)


@routes.get(f"{API}/experiments/{{experiment_id}}")
async def get_experiment(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    metadata = credentials(request)
    response = await stubs.scheduler.GetExperiment(
        scheduler_pb2.GetExperimentRequest(experiment_id=request.match_info["experiment_id"]),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    body = to_json(response.experiment)
    await with_typed_configs(request, metadata, [body])
    return web.json_response(body)


@routes.post(f"{API}/experiments/{{experiment_id}}/cancel")
async def cancel_experiment(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    metadata = credentials(request)
    response = await stubs.scheduler.CancelExperiment(
        scheduler_pb2.CancelExperimentRequest(experiment_id=request.match_info["experiment_id"]),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    body = to_json(response.experiment)
    await with_typed_configs(request, metadata, [body])
    return web.json_response(body)


def _depth(value: object, limit: int) -> int:
    """How deeply `value` nests objects and arrays, counting no further than `limit + 1`."""
    if limit < 0 or not isinstance(value, dict | list):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(child, limit - 1) for child in children), default=0)


def _statuses(values: list[str]) -> list[str]:
    statuses = []
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            key = name.lower().removeprefix(STATUS_PREFIX.lower())
            if key not in STATUSES:
                raise invalid("status", f"{quote(name)} is not a status; use {', '.join(STATUSES)}")
            statuses.append(STATUSES[key])
    return statuses
