"""`GET /healthz`: whether this gateway can serve, for load balancers, compose and probes.

It needs no token and costs one call to the scheduler's standard gRPC health service
(`grpc.health.v1.Health/Check` for `azuraforge.v1.SchedulerService`) with a short deadline.
A gateway whose scheduler does not answer can serve nothing but the web UI's files, so it is
not healthy then:

- 200 `{"status": "ok", "scheduler": "serving"}`;
- 503 `{"status": "unavailable", "scheduler": "not_serving"}` when the scheduler answers that it
  is not serving (starting, or shutting down), or `"unreachable"` when it does not answer.
"""

from __future__ import annotations

from http import HTTPStatus

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2

from azuraforge.v1 import scheduler_pb2
from gateway.keys import scheduler

routes = web.RouteTableDef()

SCHEDULER_SERVICE = scheduler_pb2.DESCRIPTOR.services_by_name["SchedulerService"].full_name
# Short: a probe wants an answer before its own timeout, and a healthy scheduler takes ms.
HEALTH_TIMEOUT_S = 2.0
NO_STORE = {"Cache-Control": "no-store"}


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    stubs = scheduler(request)
    try:
        answer = await stubs.health.Check(
            health_pb2.HealthCheckRequest(service=SCHEDULER_SERVICE), timeout=HEALTH_TIMEOUT_S
        )
    except grpc.RpcError:
        state = "unreachable"
    else:
        serving = answer.status == health_pb2.HealthCheckResponse.SERVING
        state = "serving" if serving else "not_serving"
    healthy = state == "serving"
    return web.json_response(
        {"status": "ok" if healthy else "unavailable", "scheduler": state},
        status=HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE,
        headers=NO_STORE,
    )
