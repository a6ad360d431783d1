"""WebSockets: one experiment's events as they happen, and the status changes of your experiments.

- `experiments/{id}/events` sends the experiment's whole history, then each live event, one
  text frame per event in the protobuf JSON form of `ExperimentEvent` (`seq` counts from 1).
  `?after=SEQ` starts after that event, so a dropped connection resumes with exactly the events
  it missed. The socket closes with 1000 (reason `experiment_finished`) after the experiment's
  last event: its `experiment_finished`, or, when that says `files_follow`, the `files_stored`
  after the run's files. Live events come from the process's shared stream (`gateway.fanout`).
- `events` sends one `ExperimentStatusChanged` per status change of the caller's experiments
  (everyone's for an admin), for list pages. It has no history; re-read the list on connect.
  Each such socket has its own `WatchExperiments` call: what a caller may see depends on who
  they are, so unlike an experiment's events there is nothing to share between viewers.

**The token.** Query strings end up in access logs, so the token never travels in one. A client
sends it in one of three ways:

1. as a WebSocket subprotocol: offer the two protocols `azuraforge.v1` and `bearer.<token>`
   (a JWT is made of characters a protocol name may hold); the gateway selects
   `azuraforge.v1`, so the token is never echoed back. A browser's only way to set a header:
   `new WebSocket(url, ["azuraforge.v1", "bearer." + token])`;
2. in the `Authorization: Bearer <token>` header of the upgrade request (scripts);
3. as the first message after the socket opens, `{"token": "<token>"}`, within 10 seconds.

**Origins.** A browser lets any site's page open a WebSocket to any server, sending the page's
origin in `Origin`, so the upgrade checks it: the gateway's own origin is always let in (the
host and port in `Host`, compared in the scheme of the page, so that a TLS-terminating proxy
in front changes nothing), another only when `FORGE_GATEWAY_CORS_ORIGINS` lists it (or `*`).
Any other origin is answered 403 before the upgrade. A client that sends no `Origin` is no
browser, and could send any origin it liked, so it is let in; its token is what it must have.

**Close codes.** An error the scheduler answers closes the socket with 4000 + the HTTP status the
same error gets from a REST route: 4401 for a missing, invalid or expired token (also sent when a
token expires while the socket is open), 4403, 4404 for an experiment that does not exist or is
someone else's, 4503 when the scheduler cannot be reached. 4429 means the client fell too far
behind the live events and was cut off so as not to hold anything up. After any of these the
reason says where to resume: reconnect with `?after=<last seq received>`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import grpc
from aiohttp import WSMsgType, web
from yarl import URL

from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2
from gateway.errors import HTTP_STATUS, ApiError, quote
from gateway.fanout import Frame, SlowViewer, WatchOpener, scheduler_watch
from gateway.json_form import json_text
from gateway.keys import FANOUT, REQUEST_ID, SOCKETS, scheduler, settings
from gateway.metadata import bearer_metadata, is_metadata_text
from gateway.routes import API
from gateway.routes.bodies import EventsQuery
from gateway.routes.request import query

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

SUBPROTOCOL = "azuraforge.v1"
BEARER_PROTOCOL_PREFIX = "bearer."
# Close codes besides the standard ones: 4000 + an HTTP status, as the module docstring says.
CLOSE_FINISHED = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL = 1011
CLOSE_UNAUTHENTICATED = 4000 + HTTPStatus.UNAUTHORIZED
CLOSE_TOO_SLOW = 4000 + HTTPStatus.TOO_MANY_REQUESTS
CLOSE_SCHEDULER_GONE = 4000 + HTTPStatus.SERVICE_UNAVAILABLE
# A close frame's reason holds at most 123 bytes.
MAX_REASON_BYTES = 123
# How long closing may wait on a client that does not read before the connection is dropped.
CLOSE_TIMEOUT_S = 5.0
# Clients send nothing but the token, so their messages may be small.
MAX_CLIENT_MESSAGE = 64 * 1024
HEARTBEAT_S = 30.0
FINISHED_STATUSES = frozenset(
    {
        experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
        experiment_pb2.EXPERIMENT_STATUS_FAILED,
        experiment_pb2.EXPERIMENT_STATUS_CANCELLED,
        experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY,
    }
)


@dataclass(frozen=True)
class Closing:
    """How a socket ends: its close code and reason."""

    code: int
    reason: str


class MissedEvents(Exception):
    """An event arrived out of order; never expected, since both sources are gap-free."""


@routes.get(f"{API}/experiments/{{experiment_id}}/events", allow_head=False)
async def experiment_events(request: web.Request) -> web.StreamResponse:
    experiment_id = request.match_info["experiment_id"]
    after = query(request, EventsQuery).after or 0
    ws, session = await Session.open(request)
    if session is not None:
        await session.run(lambda: _send_experiment_events(session, experiment_id, after))
    return ws


@routes.get(f"{API}/events", allow_head=False)
async def status_changes(request: web.Request) -> web.StreamResponse:
    ws, session = await Session.open(request)
    if session is not None:
        await session.run(lambda: _send_status_changes(session))
    return ws


class Session:
    """One open, authenticated WebSocket and what may end it."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, token: str) -> None:
        self.request = request
        self.ws = ws
        self.metadata = bearer_metadata(token, request.get(REQUEST_ID))
        self.expires_at = token_expiry(token)
        # The seq of the last event sent, for the reason of a close ("resume with after=N").
        self.last_seq = 0
        # Set by `end`: the close code, and a reason made when the socket closes.
        self._ending: asyncio.Future[tuple[int, Callable[[], str]]] = (
            asyncio.get_running_loop().create_future()
        )

    @classmethod
    async def open(cls, request: web.Request) -> tuple[web.WebSocketResponse, Session | None]:
        """Upgrade the request and find its token; no session when it has none (then closed).

        403 for a page of an origin that may not open sockets here, before any upgrade.
        """
        check_origin(request)
        # Uncompressed, each frame is written whole the moment it is sent, so `last_seq` is
        # exactly what the client will have received even when a send is cut short (see
        # `_send_event`); events are small JSON that gains little from deflate anyway.
        ws = web.WebSocketResponse(
            protocols=(SUBPROTOCOL,),
            heartbeat=HEARTBEAT_S,
            max_msg_size=MAX_CLIENT_MESSAGE,
            compress=False,
        )
        if not ws.can_prepare(request).ok:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "bad_request",
                f"{request.path} is a WebSocket: open it with a WebSocket client "
                "(a GET with `Connection: Upgrade` and `Upgrade: websocket`), as docs/api.md shows",
            )
        await ws.prepare(request)
        request.app[SOCKETS].add(ws)
        token = _header_token(request) or await _first_message_token(
            ws, settings(request).websocket_auth_seconds
        )
        if token is not None and not is_metadata_text(token):
            token = None
        if token is None:
            await close(
                request,
                ws,
                Closing(
                    CLOSE_UNAUTHENTICATED,
                    'no token: offer subprotocol "bearer.<token>" or send {"token": ...} first',
                ),
            )
            return ws, None
        return ws, cls(request, ws, token)

    def end(self, code: int, reason: Callable[[], str]) -> None:
        """Close the socket with `code` as soon as possible, whatever it is doing.

        `reason` is called at the close, so that it names the last event really sent.
        """
        if not self._ending.done():
            self._ending.set_result((code, reason))

    async def send(self, text: str) -> None:
        await self.ws.send_str(text)

    def write_now(self, frame: Frame) -> bool:
        """Put `frame` in the socket's buffer at once if that needs no waiting; else False.

        Only while the buffer is below its low-water mark and the frame keeps it below the
        high one: the transport never pauses, so nothing written here could have had to wait
        for the client, and a client that stops reading soon sends its frames the slow way,
        through its bounded buffer and its cut-off.
        """
        transport = self.request.transport
        if self.ws.closed or transport is None or transport.is_closing():
            return False
        low, high = transport.get_write_buffer_limits()
        buffered = transport.get_write_buffer_size()
        wire = frame.wire()
        if buffered > low or buffered + len(wire) > high:
            return False
        transport.write(wire)
        return True

    async def run(self, produce: Callable[[], Coroutine[Any, Any, Closing]]) -> None:
        """Send what `produce` sends until it ends, the client leaves, or `end` is called."""
        expiry = None
        if self.expires_at is not None:
            delay = max(0.0, self.expires_at - time.time())
            expiry = asyncio.get_running_loop().call_later(
                delay,
                self.end,
                CLOSE_UNAUTHENTICATED,
                lambda: f"token expired: log in again and reconnect with after={self.last_seq}",
            )
        producer = asyncio.create_task(produce())
        reader = asyncio.create_task(self._read_until_closed())
        try:
            waiting: set[asyncio.Future[Any]] = {producer, reader, self._ending}
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if expiry is not None:
                expiry.cancel()
            for task in (producer, reader):
                task.cancel()
            await asyncio.gather(producer, reader, return_exceptions=True)
        if self._ending.done():
            code, reason = self._ending.result()
            closing = Closing(code, reason())
        elif producer in done:
            closing = self._outcome(producer)
        else:
            return  # The client closed the socket.
        await close(self.request, self.ws, closing)

    def _outcome(self, producer: asyncio.Task[Closing]) -> Closing:
        error = producer.exception()
        if error is None:
            return producer.result()
        resume = f"reconnect with after={self.last_seq}"
        if isinstance(error, grpc.RpcError):
            return rpc_closing(error, resume)
        if isinstance(error, SlowViewer):
            return Closing(CLOSE_TOO_SLOW, f"too slow: {resume}")
        if isinstance(error, ConnectionError):
            return Closing(CLOSE_GOING_AWAY, "connection lost")
        log.error("a WebSocket failed", exc_info=error)
        return Closing(CLOSE_INTERNAL, f"gateway error: {resume}")

    async def _read_until_closed(self) -> None:
        # The client has nothing more to say; reading is how its close frame is noticed.
        async for _message in self.ws:
            pass


async def _send_experiment_events(session: Session, experiment_id: str, after: int) -> Closing:
    stubs = scheduler(session.request)
    open_watch = scheduler_watch(stubs.scheduler, stubs.gate)
    session.last_seq = after
    async with stubs.gate.place():
        response = await stubs.scheduler.GetExperiment(
            scheduler_pb2.GetExperimentRequest(experiment_id=experiment_id),
            metadata=session.metadata,
            timeout=stubs.timeout,
        )
    experiment = response.experiment
    finished = Closing(CLOSE_FINISHED, "experiment_finished")
    if experiment.status in FINISHED_STATUSES:
        # To the log's end, which the scheduler's watch knows: files may still be coming.
        await _replay(session, open_watch, experiment_id)
        return finished
    fanout = session.request.app[FANOUT]
    with fanout.watch(experiment_id, experiment.last_seq, session.metadata) as viewer:
        viewer.on_cut_off(
            lambda: session.end(
                CLOSE_TOO_SLOW, lambda: f"too slow: reconnect with after={session.last_seq}"
            )
        )
        await _replay(session, open_watch, experiment_id, viewer.boundary)
        viewer.write_through(lambda frame: _write_now(session, frame))
        while (frame := await viewer.next()) is not None:
            await _send(session, frame.seq, frame.text)
    return finished


async def _replay(
    session: Session, open_watch: WatchOpener, experiment_id: str, until: int | None = None
) -> None:
    """Send the stored events after what was sent, up to seq `until` (without one, to the end
    of the experiment's log), with the caller's token."""
    if until is not None and session.last_seq >= until:
        return
    events = open_watch(experiment_id, session.last_seq, session.metadata)
    async with contextlib.aclosing(events):
        async for event in events:
            await _send_event(session, event)
            if until is not None and event.seq >= until:
                break


async def _send_event(session: Session, event: events_pb2.ExperimentEvent) -> None:
    """Send a replayed `event` unless it was sent already (the replay and the feed overlap)."""
    if event.seq > session.last_seq:
        await _send(session, event.seq, json_text(event))


async def _send(session: Session, seq: int, text: str) -> None:
    """Send event `seq` as `text` unless it was sent already; it must be the next one."""
    if seq <= session.last_seq:
        return
    if seq != session.last_seq + 1:
        raise MissedEvents(f"event {seq} came after {session.last_seq}")
    # Counted before the await: the frame is in the socket's buffer before `send` waits for
    # the client to make room, so a send interrupted there (a cut-off) still delivers it.
    session.last_seq = seq
    await session.send(text)


def _write_now(session: Session, frame: Frame) -> bool:
    """The viewer's sink: write a live frame straight into an idle socket (see `gateway.fanout`).

    False leaves the frame to the viewer's task: the socket's buffer is full, or the frame is
    not the next one (which the task then reports as `MissedEvents`).
    """
    if frame.seq <= session.last_seq:
        return True
    if frame.seq != session.last_seq + 1 or not session.write_now(frame):
        return False
    session.last_seq = frame.seq
    return True


async def _send_status_changes(session: Session) -> Closing:
    call = scheduler(session.request).scheduler.WatchExperiments(
        scheduler_pb2.WatchExperimentsRequest(), metadata=session.metadata
    )
    try:
        async for response in call:
            await session.send(json_text(response.change))
    finally:
        call.cancel()
    return Closing(CLOSE_SCHEDULER_GONE, "the scheduler ended the stream: reconnect")


def rpc_closing(error: grpc.RpcError, resume: str) -> Closing:
    """The close for a failed scheduler call: 4000 + the status a REST route would answer."""
    code: grpc.StatusCode = error.code()
    status = HTTP_STATUS.get(code, HTTPStatus.BAD_GATEWAY)
    message: str = error.details() or code.name.lower()
    if code is grpc.StatusCode.UNAVAILABLE:
        message = "the scheduler cannot be reached"
    return Closing(4000 + status, f"{message}; {resume}")


async def close(request: web.Request, ws: web.WebSocketResponse, closing: Closing) -> None:
    """Close `ws`; a client that does not read its close frame in time is disconnected."""
    reason = closing.reason.encode()[:MAX_REASON_BYTES].decode(errors="ignore").encode()
    try:
        await asyncio.wait_for(ws.close(code=closing.code, message=reason), CLOSE_TIMEOUT_S)
    except (TimeoutError, ConnectionError):
        if request.transport is not None:
            request.transport.abort()


def check_origin(request: web.Request) -> None:
    """403 when another site's page opens the socket (see Origins in the module docstring)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = settings(request).cors_origins
    if "*" in allowed or origin.rstrip("/") in allowed or same_origin(origin, request.host):
        return
    raise ApiError(
        HTTPStatus.FORBIDDEN,
        "forbidden",
        f"pages of {quote(origin)} may not open WebSockets here: only this gateway's own pages "
        "and those of the origins in FORGE_GATEWAY_CORS_ORIGINS may",
    )


def same_origin(origin: str, host: str) -> bool:
    """Whether `origin` names the host and port of the `Host` header `host`, in its own scheme."""
    try:
        page = URL(origin)
        own = URL(f"{page.scheme}://{host}")
    except ValueError:
        return False
    if page.scheme not in ("http", "https") or page.host is None or own.host is None:
        return False
    return (page.host.lower(), page.port) == (own.host.lower(), own.port)


def token_expiry(token: str) -> float | None:
    """When the token expires (its `exp` claim, unverified), to close the socket then.

    The gateway cannot verify a token (the scheduler holds the key) and does not need to: the
    scheduler checked it when the socket's first call was made; this only reads the time the
    token itself says it stops being good.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    expiry = payload.get("exp") if isinstance(payload, dict) else None
    return float(expiry) if isinstance(expiry, int | float) else None


def _header_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(BEARER_PROTOCOL_PREFIX) and len(protocol) > len(
            BEARER_PROTOCOL_PREFIX
        ):
            return protocol.removeprefix(BEARER_PROTOCOL_PREFIX)
    return None


async def _first_message_token(ws: web.WebSocketResponse, timeout: float) -> str | None:
    try:
        message = await ws.receive(timeout=timeout)
    except TimeoutError:
        return None
    if message.type is not WSMsgType.TEXT:
        return None
    try:
        data = json.loads(message.data)
    except ValueError:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    return token.strip() or None if isinstance(token, str) else None
