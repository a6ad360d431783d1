"""Experiments: submit one, list them, look at one, rename one, cancel one.

`POST experiments` takes `{"pipeline": NAME, "config": {...}, "max_restarts": N, "name": TEXT}`
(`N` optional, 0 to 100: how often a lost run is placed again; `name` optional, what its owner
calls it); the scheduler validates the config against the
pipeline's schema and a bad field comes back as 422 naming it (`details[].field`, e.g.
`config.epochs`). `GET experiments` pages newest first with
`page_size` and `page_token` (from the previous page's `next_page_token`) and filters by
`status` (repeatable, or comma-separated: `running`, `RUNNING` or `EXPERIMENT_STATUS_RUNNING`)
and `pipeline`. `PATCH experiments/{id}` takes `{"name": TEXT}` and renames it (`""` clears
the name); the scheduler checks names, and a bad one is a 422 naming `name`. Another user's
experiment answers 404, as one that does not exist.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from google.protobuf import struct_pb2

from azuraforge.v1 import scheduler_pb2
from gateway.configs import with_typed_configs
from gateway.errors import invalid
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.bodies import ExperimentsQuery, Rename, Submission, parse
from gateway.routes.request import credentials, json_object, query

routes = web.RouteTableDef()

# Each JSON level is two levels of `google.protobuf.Struct`, and protobuf refuses to parse a
# message nested past 100; real configs are two or three levels deep.
MAX_CONFIG_DEPTH = 16


@routes.post(f"{API}/experiments")
async def submit_experiment(request: web.Request) -> web.Response:
    metadata = credentials(request)
    submission = parse(Submission, await json_object(request))
    if _depth(submission.config, MAX_CONFIG_DEPTH) > MAX_CONFIG_DEPTH:
        raise invalid("config", f"is nested more than {MAX_CONFIG_DEPTH} levels deep")
    config_struct = struct_pb2.Struct()
    try:
        config_struct.update(submission.config)
    except (ValueError, OverflowError) as error:
        raise invalid("config", f"has a value protobuf cannot carry ({error})") from None
    stubs = scheduler(request)
    response = await stubs.scheduler.SubmitExperiment(
        # None leaves the field unset: the scheduler's default.
        scheduler_pb2.SubmitExperimentRequest(
            pipeline=submission.pipeline,
            config=config_struct,
            max_restarts=submission.max_restarts,
            name=submission.name or None,
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
    wanted = query(request, ExperimentsQuery)
    stubs = scheduler(request)
    response = await stubs.scheduler.ListExperiments(
        scheduler_pb2.ListExperimentsRequest(
            page_size=wanted.page_size or 0,
            page_token=wanted.page_token,
            statuses=wanted.status,
            pipeline=wanted.pipeline,
        ),
        metadata=metadata,
        timeout=stubs.timeout,
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


@routes.patch(f"{API}/experiments/{{experiment_id}}")
async def rename_experiment(request: web.Request) -> web.Response:
    metadata = credentials(request)
    rename = parse(Rename, await json_object(request))
    stubs = scheduler(request)
    response = await stubs.scheduler.RenameExperiment(
        scheduler_pb2.RenameExperimentRequest(
            experiment_id=request.match_info["experiment_id"], name=rename.name
        ),
        metadata=metadata,
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response.experiment))


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
