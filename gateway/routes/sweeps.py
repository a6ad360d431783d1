"""Sweeps: submit one, list them, look at one, cancel one, and watch its events live.

`POST sweeps` takes the flat body of docs/api.md#sweeps (`pipeline`, `config`, `space`,
`search`, `seed`, `max_trials`, `parallelism`, `objective`, `early_stopping`, `name`) and
answers 201 with the `Sweep`, whose `sweep_id` the other routes take. A body the gateway can
tell is wrong is a 422 naming the field (`objective.mode`); the scheduler checks the space
against the pipeline's schema and answers a bad setting as a 422 naming it
(`space.learning_rate`). Another user's sweep is a 404, as one that does not exist.

`GET sweeps/{id}/events` is a WebSocket with the same token, origin and close-code rules as an
experiment's (`gateway.routes.events`): every `SweepEvent` after `?after=SEQ`, then the live
ones, closing with 1000 after `finished`. Sweeps have few viewers and few events, so each
socket has its own `WatchSweep` call rather than a shared fan-out.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from google.protobuf import struct_pb2

from azuraforge.v1 import sweep_pb2
from gateway.errors import invalid
from gateway.json_form import json_text, to_json
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.bodies import EventsQuery, SweepSubmission, parse
from gateway.routes.events import CLOSE_FINISHED, CLOSE_SCHEDULER_GONE, Closing, Session
from gateway.routes.request import credentials, json_object, query

routes = web.RouteTableDef()


def _struct(field: str, values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    try:
        message.update(values)
    except (ValueError, OverflowError) as error:
        raise invalid(field, f"has a value protobuf cannot carry ({error})") from None
    return message


def sweep_spec(body: SweepSubmission) -> sweep_pb2.SweepSpec:
    """The body as the scheduler's `SweepSpec`."""
    spec = sweep_pb2.SweepSpec(
        pipeline=body.pipeline,
        config=_struct("config", body.config),
        space=_struct("space", dict(body.space)),
        search=body.search,
        seed=body.seed,
        max_trials=body.max_trials,
        parallelism=body.parallelism,
        objective=sweep_pb2.Objective(metric=body.objective.metric, mode=body.objective.mode),
        name=body.name,
    )
    if body.early_stopping is not None and body.early_stopping.asha is not None:
        asha = body.early_stopping.asha
        spec.early_stopping.asha.grace_epochs = asha.grace_epochs
        spec.early_stopping.asha.reduction_factor = asha.reduction_factor
    return spec


@routes.post(f"{API}/sweeps")
async def submit_sweep(request: web.Request) -> web.Response:
    metadata = credentials(request)
    body = parse(SweepSubmission, await json_object(request))
    stubs = scheduler(request)
    response = await stubs.sweeps.SubmitSweep(
        sweep_pb2.SubmitSweepRequest(spec=sweep_spec(body)),
        metadata=metadata,
        # Checking every trial's config takes longer than a plain call.
        timeout=stubs.timeout * 4,
    )
    sweep = response.sweep
    return web.json_response(
        to_json(sweep),
        status=HTTPStatus.CREATED,
        headers={"Location": f"{API}/sweeps/{sweep.sweep_id}"},
    )


@routes.get(f"{API}/sweeps")
async def list_sweeps(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    response = await stubs.sweeps.ListSweeps(
        sweep_pb2.ListSweepsRequest(
            page_size=_page_size(request), page_token=request.query.get("page_token", "")
        ),
        metadata=credentials(request),
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response))


def _page_size(request: web.Request) -> int:
    text = request.query.get("page_size", "")
    if not text:
        return 0
    if not text.isdigit() or not 1 <= int(text) <= 500:
        raise invalid("page_size", f"must be a whole number from 1 to 500, got {text[:20]!r}")
    return int(text)


@routes.get(f"{API}/sweeps/{{sweep_id}}")
async def get_sweep(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    response = await stubs.sweeps.GetSweep(
        sweep_pb2.GetSweepRequest(sweep_id=request.match_info["sweep_id"]),
        metadata=credentials(request),
        timeout=stubs.timeout,
    )
    return web.json_response(to_json(response.sweep))


@routes.post(f"{API}/sweeps/{{sweep_id}}/cancel")
async def cancel_sweep(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    response = await stubs.sweeps.CancelSweep(
        sweep_pb2.CancelSweepRequest(sweep_id=request.match_info["sweep_id"]),
        metadata=credentials(request),
        # Cancelling waits for each running trial to stop (about two seconds).
        timeout=stubs.timeout * 4,
    )
    return web.json_response(to_json(response.sweep))


@routes.get(f"{API}/sweeps/{{sweep_id}}/events", allow_head=False)
async def sweep_events(request: web.Request) -> web.StreamResponse:
    sweep_id = request.match_info["sweep_id"]
    after = query(request, EventsQuery).after or 0
    ws, session = await Session.open(request)
    if session is not None:
        await session.run(lambda: _send_sweep_events(session, sweep_id, after))
    return ws


async def _send_sweep_events(session: Session, sweep_id: str, after: int) -> Closing:
    session.last_seq = after
    call = scheduler(session.request).sweeps.WatchSweep(
        sweep_pb2.WatchSweepRequest(sweep_id=sweep_id, after_seq=after), metadata=session.metadata
    )
    try:
        async for response in call:
            event = response.event
            session.last_seq = event.seq
            await session.send(json_text(event))
            if event.HasField("finished"):
                return Closing(CLOSE_FINISHED, "finished")
    finally:
        call.cancel()
    return Closing(
        CLOSE_SCHEDULER_GONE,
        f"the scheduler ended the stream: reconnect with after={session.last_seq}",
    )
