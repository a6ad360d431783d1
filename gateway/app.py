"""The gateway's aiohttp application: `create_app(settings)` and what every request goes through.

Per request, outermost first:

1. **Request id.** The client's `X-Request-ID` when it is a sane token, else a new one; it is
   echoed in the response, sent to the scheduler as gRPC metadata, and added to every log
   line written while the request is handled (`RequestIdFilter`, installed by
   `configure_logging`), so one id finds a request's lines in both services' logs.
2. **CORS**, only for the origins in `FORGE_GATEWAY_CORS_ORIGINS`; with none configured no
   cross-origin headers are ever sent, and browsers keep other sites' pages out of the API.
3. **Errors as JSON.** Whatever a handler raises becomes `{"error": {"code", "message",
   "details"}}` with the right status (`gateway.errors` maps gRPC statuses); only a bug in the
   gateway is a 500, and it is logged with its traceback.
4. **Body limit.** A body larger than `FORGE_GATEWAY_MAX_BODY_BYTES` is refused with 413,
   from its `Content-Length` before reading it, or while reading one sent without.

Every response, static files and errors included, gets the security headers of
`security_headers`. The gRPC channel to the scheduler opens and closes with the app
(`cleanup_ctx`); opening it does not wait for the scheduler, so the gateway starts, and answers
503, while the scheduler is still coming up.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
import weakref
from collections.abc import AsyncIterator
from http import HTTPStatus

import grpc
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

from gateway.errors import ApiError, api_error
from gateway.fanout import Fanout, scheduler_watch
from gateway.keys import CORS_ORIGIN, FANOUT, SCHEDULER, SETTINGS, SOCKETS
from gateway.keys import REQUEST_ID as REQUEST_ID_KEY
from gateway.openapi import openapi_routes
from gateway.routes import (
    artifacts,
    auth,
    events,
    experiments,
    health,
    pipelines,
    predictions,
    sweeps,
    webapp,
)
from gateway.scheduler_stubs import SchedulerStubs
from gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# Ids from clients are kept only when they cannot forge log lines or headers.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# The web UI's policy: its own scripts, styles and API only (Vite builds inline no script).
WEBAPP_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
CORS_MAX_AGE = "600"


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway for `settings`; run it with `web.run_app` or an `AppRunner`."""
    app = web.Application(
        middlewares=[request_id, cors(settings.cors_origins), json_errors, body_limit],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
    app[SOCKETS] = sockets
    app.cleanup_ctx.append(scheduler_channel)
    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(close_sockets)
    for module in (auth, pipelines, experiments, predictions, artifacts, events, sweeps, health):
        app.add_routes(module.routes)
    app.add_routes(openapi_routes)
    # Last: its catch-all routes must not shadow the API's.
    app.add_routes(webapp.routes)
    return app


async def scheduler_channel(app: web.Application) -> AsyncIterator[None]:
    """The channel to the scheduler and the live-event fan-out built on it, for the app's life."""
    settings = app[SETTINGS]
    stubs = SchedulerStubs.connect(
        settings.scheduler_addr, settings.rpc_timeout_seconds, settings.tls
    )
    app[SCHEDULER] = stubs
    app[FANOUT] = Fanout(scheduler_watch(stubs.scheduler, stubs.gate), settings.viewer_queue_size)
    yield
    await app[FANOUT].close()
    await stubs.channel.close(grace=None)


async def close_sockets(app: web.Application) -> None:
    """Tell every WebSocket client the gateway is going away, so it reconnects elsewhere."""
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=events.CLOSE_GOING_AWAY, message=b"the gateway is shutting down")


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    identifier = given if CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    request[REQUEST_ID_KEY] = identifier
    token = REQUEST_ID.set(identifier)
    try:
        return await handler(request)
    finally:
        REQUEST_ID.reset(token)


def cors(origins: frozenset[str]) -> Middleware:
    """Cross-origin access for `origins` (`*` for any); none at all when it is empty."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None or not ("*" in origins or origin in origins):
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return web.Response(
                status=HTTPStatus.NO_CONTENT,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": "GET, POST, PATCH, OPTIONS",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID",
                    "Access-Control-Max-Age": CORS_MAX_AGE,
                    "Vary": "Origin",
                },
            )
        request[CORS_ORIGIN] = origin
        return await handler(request)

    return middleware


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except grpc.RpcError as error:
        return api_error(error, tls=request.app[SETTINGS].tls.connects_with_tls).response()
    except web.HTTPException as error:
        if error.status < HTTPStatus.BAD_REQUEST:
            raise
        return _http_error(request, error).response()
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return ApiError(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal",
            f"the gateway failed; its log has the details under request id "
            f"{request.get(REQUEST_ID_KEY, '-')}",
        ).response()


@web.middleware
async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    length = request.content_length
    if length is not None and length > request.app[SETTINGS].max_body_bytes:
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.app[SETTINGS].max_body_bytes, actual_size=length
        )
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Headers every response gets; a handler's own (an artifact's sandbox CSP) are kept."""
    headers = response.headers
    headers.setdefault(REQUEST_ID_HEADER, request.get(REQUEST_ID_KEY, "-"))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    is_api = request.path.startswith("/api/")
    headers.setdefault("Content-Security-Policy", API_CSP if is_api else WEBAPP_CSP)
    if is_api:
        headers.setdefault("Cache-Control", "no-store")
    origin = request.get(CORS_ORIGIN)
    if origin is not None:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = f"{REQUEST_ID_HEADER}, Location, Retry-After"
        headers["Vary"] = "Origin"


def _http_error(request: web.Request, error: web.HTTPException) -> ApiError:
    """aiohttp's own errors (no route, wrong method, body too large) in the API's shape."""
    status = HTTPStatus(error.status)
    message = error.text if error.text and error.text != f"{error.status}: {error.reason}" else ""
    if status is HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        limit = request.app[SETTINGS].max_body_bytes
        return ApiError(
            status,
            "payload_too_large",
            f"the request body is larger than the {limit} bytes the gateway accepts "
            "(FORGE_GATEWAY_MAX_BODY_BYTES)",
        )
    if status is HTTPStatus.METHOD_NOT_ALLOWED:
        allowed = error.headers.get("Allow", "")
        return ApiError(
            status,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; use {allowed}",
            headers={"Allow": allowed},
        )
    return ApiError(
        status,
        status.phrase.lower().replace(" ", "_"),
        message or f"{status.phrase}: {request.method} {request.path}",
    )


class RequestIdFilter(logging.Filter):
    """Gives every log record the id of the request it was written for (`-` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not isinstance(getattr(record, "request_id", None), str):
            record.request_id = REQUEST_ID.get()
        return True


class AccessLogger(AbstractAccessLogger):
    """One line per request, with its request id; the path only, since queries may be long."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time,
            extra={"request_id": request.get(REQUEST_ID_KEY, "-")},
        )


def configure_logging(level: int = logging.INFO, handler: logging.Handler | None = None) -> None:
    """Log to stderr (or `handler`) with each line's request id, for `forge gateway`."""
    handler = handler or logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
