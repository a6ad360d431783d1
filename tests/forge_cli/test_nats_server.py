"""The bundled nats-server's permissions, tried on a real server started as `forge up` starts it.

`forge_nats` (tests/conftest.py) runs `forge_cli.nats_server.prepare_server`'s command line with
the config it wrote, so what passes here is what `forge up` runs. Every wait is on an event: a
refusal, an error the server reports, or a message arriving.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from forge_cli.nats_server import (
    READER_USER,
    SCHEDULER_USER,
    NatsConfigError,
    NatsIdentities,
    authorization_config,
)
from tests.stack import ForgeNats

pytestmark = pytest.mark.timeout(60)

SUBJECT = "forge.experiments.x.events"


class Watched:
    """A connection's received messages and the errors the server sent it, awaitable."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[Msg] = asyncio.Queue()
        self.errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(self, error: Exception) -> None:
        await self.errors.put(error)

    async def on_message(self, msg: Msg) -> None:
        await self.messages.put(msg)

    async def connect(self, url: str) -> Client:
        return await nats.connect(url, error_cb=self.on_error, allow_reconnect=False)


async def refused(url: str) -> str:
    """The error a connection to `url` is turned away with."""
    with pytest.raises(nats.errors.Error) as raised:
        await nats.connect(url, allow_reconnect=False, connect_timeout=5)
    return str(raised.value)


def test_anonymous_clients_and_wrong_passwords_are_refused(forge_nats: ForgeNats) -> None:
    async def scenario() -> list[str]:
        return [
            await refused(forge_nats.url),
            await refused(forge_nats.url_as(SCHEDULER_USER, "not-the-password")),
            await refused(forge_nats.url_as(READER_USER, forge_nats.identities.scheduler.value)),
        ]

    for error in asyncio.run(scenario()):
        assert "Authorization Violation" in error


def test_the_reader_may_listen_but_not_publish_and_only_the_scheduler_publishes(
    forge_nats: ForgeNats,
) -> None:
    async def scenario() -> tuple[list[str], bytes, str]:
        reader, scheduler = Watched(), Watched()
        reading = await reader.connect(forge_nats.reader_url)
        publishing = await scheduler.connect(forge_nats.scheduler_url)
        try:
            await reading.subscribe("forge.>", cb=reader.on_message)
            await reading.flush()  # subscribed on the server
            async with asyncio.timeout(30):
                await reading.publish(SUBJECT, b"forged by the reader")
                reader_refused = str(await reader.errors.get())
                await publishing.publish("elsewhere", b"outside forge.>")
                scheduler_refused = str(await scheduler.errors.get())
                await publishing.publish(SUBJECT, b"from the scheduler")
                # Had the reader's message gone through, it would have arrived first.
                first = await reader.messages.get()
        finally:
            await reading.close()
            await publishing.close()
        return [reader_refused, scheduler_refused], first.data, first.subject

    refusals, first, subject = asyncio.run(scenario())

    assert refusals == [
        f'nats: permissions violation for publish to "{SUBJECT}"',
        'nats: permissions violation for publish to "elsewhere"',
    ]
    assert (first, subject) == (b"from the scheduler", SUBJECT)


def test_the_config_and_the_passwords_are_the_users_alone(forge_nats: ForgeNats) -> None:
    files = [
        forge_nats.config,
        Path(forge_nats.identities.scheduler.source),
        Path(forge_nats.identities.reader.source),
    ]
    assert {path.stat().st_mode & 0o777 for path in files} == {0o600}
    assert forge_nats.identities.scheduler.value != forge_nats.identities.reader.value


def test_passwords_from_the_environment_are_used_when_the_config_can_hold_them(
    tmp_path: Path,
) -> None:
    identities = NatsIdentities.load(
        tmp_path, {"FORGE_NATS_PASSWORD": "s3cret!$#{}", "FORGE_NATS_READER_PASSWORD": ""}
    )
    assert identities.scheduler.value == "s3cret!$#{}"
    assert identities.scheduler.source == "FORGE_NATS_PASSWORD"
    assert identities.reader.source == str(tmp_path / "nats-reader-password")
    assert 'password: "s3cret!$#{}"' in authorization_config(
        identities.scheduler.value, identities.reader.value
    )
    with pytest.raises(NatsConfigError, match="FORGE_NATS_READER_PASSWORD has a space, a quote"):
        NatsIdentities.load(tmp_path, {"FORGE_NATS_READER_PASSWORD": 'say "hi"'})
