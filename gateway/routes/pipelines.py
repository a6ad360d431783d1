"""`GET pipelines`: the pipelines live trainers run, each with the JSON Schema of its config.

The web UI renders its submission form from these schemas, so what it offers is what the
scheduler will accept.
"""

from __future__ import annotations

from aiohttp import web

from azuraforge.v1 import scheduler_pb2
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.request import credentials

routes = web.RouteTableDef()


@routes.get(f"{API}/pipelines")
async def list_pipelines(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    response = await stubs.scheduler.ListPipelines(
        scheduler_pb2.ListPipelinesRequest(), metadata=credentials(request), timeout=stubs.timeout
    )
    return web.json_response(to_json(response))
