"""The typed keys under which the app and each request keep what their handlers share.

Apart from `gateway.app` so that the route modules can read them without importing the
module that imports them.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.fanout import Fanout
    from gateway.scheduler_stubs import SchedulerStubs
    from gateway.settings import GatewaySettings

SETTINGS: web.AppKey[GatewaySettings] = web.AppKey("settings")
# Set by the app's cleanup context for as long as the app runs.
SCHEDULER: web.AppKey[SchedulerStubs] = web.AppKey("scheduler")
FANOUT: web.AppKey[Fanout] = web.AppKey("fanout")
# Open WebSockets, closed with "going away" when the gateway shuts down.
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")
# Per request: its id (see gateway.app), and the origin of a cross-origin request let in.
REQUEST_ID = web.RequestKey("request_id", str)
CORS_ORIGIN = web.RequestKey("cors_origin", str)


def scheduler(request: web.Request) -> SchedulerStubs:
    return request.app[SCHEDULER]


def settings(request: web.Request) -> GatewaySettings:
    return request.app[SETTINGS]
