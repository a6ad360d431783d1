"""Files a run wrote: `GET experiments/{id}/artifacts/{name}` and the report, `.../report`.

The scheduler streams an artifact in chunks (`GetArtifact`); the gateway passes them on as they
come, so a large checkpoint never sits whole in the gateway's memory. The first chunk carries
the artifact's size, type and SHA-256, which become `Content-Length`, `Content-Type` and a
strong `ETag` (a matching `If-None-Match` is answered 304 without the body).

Artifacts are written by pipelines, which are plugins: each is served with a sandboxing
`Content-Security-Policy`, so an HTML file a pipeline wrote cannot run script as the gateway's
origin. `?download=1` asks the browser to save the file rather than show it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import quote

import grpc
from aiohttp import web

from azuraforge.v1 import scheduler_pb2
from gateway.errors import ApiError
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.request import credentials

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

REPORT = "report.md"
REPORT_CONTENT_TYPE = "text/markdown; charset=utf-8"


@routes.get(f"{API}/experiments/{{experiment_id}}/report", allow_head=False)
async def get_report(request: web.Request) -> web.StreamResponse:
    """The run's `report.md`, as markdown: metrics, plots (as artifact links) and settings."""
    return await _stream_artifact(request, REPORT, REPORT_CONTENT_TYPE)


@routes.get(f"{API}/experiments/{{experiment_id}}/artifacts/{{name:.+}}", allow_head=False)
async def get_artifact(request: web.Request) -> web.StreamResponse:
    return await _stream_artifact(request, request.match_info["name"], None)


async def _stream_artifact(
    request: web.Request, name: str, content_type: str | None
) -> web.StreamResponse:
    metadata = credentials(request)
    experiment_id = request.match_info["experiment_id"]
    call = scheduler(request).scheduler.GetArtifact(
        scheduler_pb2.GetArtifactRequest(experiment_id=experiment_id, name=name),
        metadata=metadata,
    )
    chunks = aiter(call)
    try:
        first = await anext(chunks, None)
        if first is None:
            raise ApiError(
                HTTPStatus.BAD_GATEWAY, "bad_gateway", f"the scheduler sent nothing for {name!r}"
            )
        artifact = first.artifact
        etag = f'"{artifact.sha256}"' if artifact.sha256 else None
        if etag is not None and etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=HTTPStatus.NOT_MODIFIED, headers={"ETag": etag})
        response = web.StreamResponse(headers=_headers(request, artifact.name or name, etag))
        response.content_type = content_type or artifact.content_type or "application/octet-stream"
        response.content_length = artifact.size_bytes
        await response.prepare(request)
        # From here on the status is sent: a failure can only cut the body short, which the
        # client sees as a body shorter than its Content-Length.
        try:
            await response.write(first.data)
            async for chunk in chunks:
                await response.write(chunk.data)
        except grpc.RpcError as error:
            log.warning("artifact %s of %s cut short: %s", name, experiment_id, error)
            if request.transport is not None:
                request.transport.abort()
            return response
        await response.write_eof()
        return response
    finally:
        call.cancel()


def _headers(request: web.Request, name: str, etag: str | None) -> dict[str, str]:
    disposition = "attachment" if request.query.get("download") else "inline"
    filename = name.rsplit("/", 1)[-1]
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:; "
        "style-src 'unsafe-inline'",
        "Cache-Control": "private, no-cache",
    }
    if etag is not None:
        headers["ETag"] = etag
    return headers
