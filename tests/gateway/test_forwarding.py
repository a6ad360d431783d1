"""Who a login comes from: the peer, or what trusted proxies say in X-Forwarded-For.

The parsing is checked on requests made up with aiohttp's test helper; that the scheduler
counts the address the gateway names is checked on the real stack, through a trusted proxy.
"""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from gateway.forwarding import client_address
from gateway.settings import GatewaySettings
from tests.gateway.harness import API, Gateway, gateway_on_stack
from tests.stack import ADMIN_PASSWORD, CLUSTER_TOKEN

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


class Transport:
    """Just enough of a transport for `request.remote`: the peer's address."""

    def __init__(self, peer: str) -> None:
        self.peer = peer

    def get_extra_info(self, name: str, default: object = None) -> object:
        return (self.peer, 1234) if name == "peername" else default


def address(peer: str, *forwarded: str, trusted=PROXIES) -> str | None:
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    request = make_mocked_request("POST", "/", headers=headers, transport=Transport(peer))
    found = client_address(request, trusted)
    return None if found is None else str(found)


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy():
    assert address("198.51.100.7", "203.0.113.1") == "198.51.100.7"
    assert address("10.0.0.2", "203.0.113.1") == "203.0.113.1"
    assert address("10.0.0.2") == "10.0.0.2"
    assert address("10.0.0.2", "203.0.113.1", trusted=()) == "10.0.0.2"


def test_the_header_is_read_from_the_right_and_what_the_client_wrote_is_ignored():
    # The client claims 192.0.2.66; the first proxy saw 203.0.113.1; a second proxy saw the first.
    assert address("10.0.0.3", "192.0.2.66, 203.0.113.1, 10.0.0.2") == "203.0.113.1"
    assert address("10.0.0.3", "192.0.2.66", "203.0.113.1, 10.0.0.2") == "203.0.113.1"


def test_ports_brackets_and_ipv6_are_understood_and_garbage_is_not_believed():
    assert address("10.0.0.2", "203.0.113.1:5555") == "203.0.113.1"
    assert address("10.0.0.2", "[2001:db8::1]:443") == "2001:db8::1"
    assert address("fd00::2", "2001:db8::1") == "2001:db8::1"
    assert address("10.0.0.2", "::ffff:203.0.113.1") == "203.0.113.1"
    assert address("10.0.0.2", "not-an-address") == "10.0.0.2"


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("probe_pipeline")
def test_through_a_trusted_proxy_each_client_counts_as_itself(tmp_path: Path, nats_url: str):
    settings = GatewaySettings(
        webapp_dir=tmp_path / "no-webapp",
        cluster_token=CLUSTER_TOKEN,
        trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),),
    )

    async def login(gateway: Gateway, client: str, password: str) -> int:
        async with gateway.http.post(
            f"{API}/auth/token",
            data={"username": "admin", "password": password},
            headers={"X-Forwarded-For": client},
        ) as response:
            return response.status

    async def scenario() -> tuple[list[int], int]:
        async with gateway_on_stack(tmp_path, nats_url, settings, trainers=0) as gateway:
            guesses = [await login(gateway, "203.0.113.7", "a-wrong-guess") for _ in range(7)]
            return guesses, await login(gateway, "198.51.100.7", ADMIN_PASSWORD)

    guesses, admin = asyncio.run(scenario())

    assert guesses[-1] == 429
    assert admin == 200
