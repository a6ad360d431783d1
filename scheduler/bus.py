"""The live fan-out: experiment events and status changes on NATS (docs/architecture.md#contracts).

Two public subjects, protobuf-encoded, so anyone may follow along with the `nats` CLI:

- `forge.experiments.<id>.events`: every `ExperimentEvent` of one experiment, with its `seq`;
- `forge.experiments.status`: one `ExperimentStatusChanged` per status change of any experiment;
- `forge.sweeps.<id>.events`: every `SweepEvent` of one sweep, with its `seq`.

They carry core NATS messages, not a JetStream stream: the database is the record, and a
watcher that missed a message (it joined late, fell behind, or NATS reconnected) fills the gap
from there by `seq` (`scheduler.watch`). So publishing is best effort: while NATS is away the
client buffers what it publishes and sends it on reconnect, and the scheduler never stops
storing events because NATS is down.

The client reconnects forever. Only the first connection must succeed within
`CONNECT_TIMEOUT_S`, so that a wrong `FORGE_NATS_URL` fails the start with a message instead of
a scheduler that silently publishes into nothing. It connects with the scheduler's credentials
(`scheduler.bus_credentials`): on a NATS server set up as `forge up` sets it up, only the
scheduler may publish on `forge.>`. Between machines it speaks TLS as `BusTls` says, and when
TLS is required it refuses a server that does not offer it before sending a byte. Watchers
still trust nothing they receive here more than the database (`scheduler.watch`,
`scheduler.status_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import nats.errors
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client
from nats.aio.msg import Msg

from azuraforge.v1 import events_pb2, experiment_pb2, sweep_pb2
from scheduler.bus_credentials import NATS_TLS_CA, BusCredentials, BusTls, redacted_url

log = logging.getLogger(__name__)

STATUS_SUBJECT = "forge.experiments.status"
CONNECT_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
RECONNECT_WAIT_S = 1
# A subscriber this far behind loses the oldest messages; watchers refill them from the database.
SUBSCRIPTION_BUFFER = 10_000

M = TypeVar("M", bound=Message)


class BusUnavailable(ConnectionError):
    """NATS cannot be reached; the message says where it was looked for."""


class NoTlsOffered(nats.errors.Error):
    """The NATS server offers no TLS, and the scheduler requires it."""


class _TlsOnlyClient(Client):
    """nats-py's client, refusing a server that offers no TLS before it sends anything.

    nats-py upgrades to TLS only when the server's greeting (INFO) says `tls_required`, even
    for a `tls://` URL; the CONNECT with the password follows the greeting. Checked here, in
    the one place between the two, a plaintext server (or someone posing as one) gets nothing,
    and one that merely allows TLS is upgraded all the same.
    """

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection:
            if not (info.get("tls_required") or info.get("tls_available")):
                raise NoTlsOffered("the server offers no TLS")
            info["tls_required"] = True
        await super()._process_info(info, initial_connection)


def events_subject(experiment_id: str) -> str:
    """The subject of one experiment's events."""
    return f"forge.experiments.{experiment_id}.events"


def sweep_events_subject(sweep_id: str) -> str:
    """The subject of one sweep's events (`scheduler.sweeps`)."""
    return f"forge.sweeps.{sweep_id}.events"


class Subscription(Generic[M]):
    """Messages of one subject, decoded, buffered from the moment of subscribing."""

    def __init__(self, message_type: type[M]) -> None:
        self._type = message_type
        self._queue: asyncio.Queue[M] = asyncio.Queue(maxsize=SUBSCRIPTION_BUFFER)
        self.dropped = 0

    async def get(self, timeout: float | None = None) -> M | None:
        """The next message, or None when none came within `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def _receive(self, msg: Msg) -> None:
        try:
            message = self._type.FromString(msg.data)
        except DecodeError:
            log.warning("ignoring a message on %s that is no %s", msg.subject, self._type.__name__)
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1


class Bus:
    """One NATS connection for the scheduler: publish events and changes, subscribe to them."""

    def __init__(
        self, url: str, credentials: BusCredentials | None = None, tls: BusTls | None = None
    ) -> None:
        self._url = url
        # What logs and messages show: the URL may carry a password.
        self.url = redacted_url(url)
        self.credentials = credentials or BusCredentials()
        self.tls = tls or BusTls()
        self._client: Client | None = None
        self._closing = False
        # Whether NATS ever turned the scheduler's credentials away: the reason to give when
        # connecting fails, even when the last thing nats-py saw was the dropped connection.
        self._refused = False
        # What went wrong with TLS, said as what to do about it.
        self._tls_problem: str | None = None

    async def connect(self) -> None:
        """Connect, or raise `BusUnavailable` after `CONNECT_TIMEOUT_S` of trying."""
        client = _TlsOnlyClient() if self.tls.required else Client()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                await client.connect(
                    self._url,
                    name="forge-scheduler",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=RECONNECT_WAIT_S,
                    error_cb=self._error,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    tls=self.tls.context(),
                    **self.credentials.connect_options(),
                )
        except (TimeoutError, OSError, nats.errors.Error) as error:
            # Bounded: after a failed TLS handshake nats-py's close can wait on a dead socket.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await client.close()
            self._note_tls_problem(error)
            if self._tls_problem is not None:
                raise BusUnavailable(f"NATS at {self.url}: {self._tls_problem}") from None
            # nats-py retries a refused login until the timeout; what it met says why.
            if self._refused or _refusal(error):
                raise BusUnavailable(
                    f"NATS at {self.url} refused the scheduler, which connected "
                    f"{self.credentials.describe()}: set FORGE_NATS_USER and FORGE_NATS_PASSWORD "
                    "(or FORGE_NATS_TOKEN) to the scheduler's identity in the NATS server's config"
                ) from None
            raise BusUnavailable(
                f"cannot reach NATS at {self.url} ({type(error).__name__}: {error}); start "
                "nats-server (`nats-server -js`) or point FORGE_NATS_URL / --nats-url at one"
            ) from None
        self._client = client

    async def close(self) -> None:
        """Send what is buffered and disconnect."""
        self._closing = True
        if self._client is not None and not self._client.is_closed:
            with contextlib.suppress(Exception):
                await self._client.drain()
        self._client = None

    async def publish_event(self, event: events_pb2.ExperimentEvent) -> None:
        """Publish a stored event (with its `seq`) on its experiment's subject."""
        await self._publish(events_subject(event.experiment_id), event)

    async def publish_sweep_event(self, event: sweep_pb2.SweepEvent) -> None:
        """Publish a stored sweep event (with its `seq`) on its sweep's subject."""
        await self._publish(sweep_events_subject(event.sweep_id), event)

    async def publish_status(self, change: experiment_pb2.ExperimentStatusChanged) -> None:
        await self._publish(STATUS_SUBJECT, change)

    @asynccontextmanager
    async def subscribe(
        self, subject: str, message_type: type[M]
    ) -> AsyncIterator[Subscription[M]]:
        """Receive `subject`'s messages while the block runs.

        The subscription is known to the server when the block starts (a round trip confirms
        it), so everything published after that, by this scheduler or another, arrives.
        """
        client = self._connected()
        subscription = Subscription(message_type)
        nats_subscription = await client.subscribe(subject, cb=subscription._receive)
        try:
            await client.flush()
            yield subscription
        finally:
            with contextlib.suppress(nats.errors.Error):
                await nats_subscription.unsubscribe()
            if subscription.dropped:
                log.warning("a subscriber to %s missed %d messages", subject, subscription.dropped)

    async def _publish(self, subject: str, message: Message) -> None:
        try:
            await self._connected().publish(subject, message.SerializeToString())
        except (BusUnavailable, nats.errors.Error) as error:
            # Stored already; watchers will read it from the database.
            log.warning("could not publish on %s: %s", subject, error)

    def _connected(self) -> Client:
        if self._client is None or self._client.is_closed:
            raise BusUnavailable(f"not connected to NATS at {self.url}")
        return self._client

    async def _disconnected(self) -> None:
        if not self._closing:
            log.warning("lost NATS at %s; reconnecting", self.url)

    async def _reconnected(self) -> None:
        log.info("reconnected to NATS at %s", self.url)

    async def _error(self, error: Exception) -> None:
        self._refused = self._refused or _refusal(error)
        self._note_tls_problem(error)
        if self._client is None and self._tls_problem is not None:
            # Connecting for the first time: TLS set up wrong does not mend by retrying.
            raise BusUnavailable(self._tls_problem)
        log.warning("NATS: %s", error)

    def _note_tls_problem(self, error: BaseException) -> None:
        if isinstance(error, NoTlsOffered):
            self._tls_problem = (
                "the server offers no TLS, yet the scheduler requires it (a tls:// "
                f"FORGE_NATS_URL or {NATS_TLS_CA}); give nats-server a tls block "
                '(docs/running.md, "TLS between machines"), or, on a network you trust, use a '
                f"nats:// URL without {NATS_TLS_CA}"
            )
        elif isinstance(error, ssl.SSLCertVerificationError):
            self._tls_problem = (
                f"its certificate is not to be trusted ({error.verify_message}): "
                f"{NATS_TLS_CA}, else FORGE_TLS_CA, must name the CA that signed it"
            )
        elif isinstance(error, ssl.SSLError) and "CERTIFICATE_REQUIRED" in str(error):
            self._tls_problem = (
                "the server requires a client certificate: set FORGE_TLS_CLIENT_CERT and "
                "FORGE_TLS_CLIENT_KEY (or FORGE_TLS_CERT and FORGE_TLS_KEY) to one its CA signed"
            )


def _refusal(error: Exception) -> bool:
    """Whether `error` is NATS turning the connection away for its credentials."""
    return "authorization violation" in str(error).lower()
