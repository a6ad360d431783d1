"""Which address a login counts against: the caller's own, or one a gateway vouches for.

The parsing is checked alone; the trust, on the real stack: an address claimed without the
cluster token is refused, never believed, so that a direct client cannot pose as many places.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from azuraforge.v1 import auth_pb2
from scheduler.client_address import (
    CLIENT_ADDRESS_KEY,
    CLUSTER_TOKEN_KEY,
    address_key,
    peer_host,
)
from tests.stack import ADMIN_PASSWORD, CLUSTER_TOKEN, Stack, running_stack


@pytest.mark.parametrize(
    ("peer", "host"),
    [
        ("ipv4:127.0.0.1:5678", "127.0.0.1"),
        ("ipv6:[::1]:5678", "::1"),
        ("unix:/run/forge.sock", "unix:/run/forge.sock"),
    ],
)
def test_the_host_of_a_grpc_peer(peer: str, host: str):
    assert peer_host(peer) == host


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        # One machine usually holds a whole /64: its addresses count as one.
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("unix:" + "x" * 100, "unix:" + "x" * 59),
    ],
)
def test_addresses_as_the_throttle_counts_them(address: str, key: str):
    assert address_key(address) == key


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("probe_pipeline")
def test_a_claimed_address_is_believed_only_with_the_cluster_token(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def login(stack: Stack, password: str, *metadata: tuple[str, str]) -> Any:
        try:
            await stack.auth.Login(
                auth_pb2.LoginRequest(username="admin", password=password), metadata=metadata
            )
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details()
        return grpc.StatusCode.OK, ""

    def vouched(address: str, token: str = CLUSTER_TOKEN) -> tuple[tuple[str, str], ...]:
        return ((CLIENT_ADDRESS_KEY, address), (CLUSTER_TOKEN_KEY, token))

    async def scenario(stack: Stack):
        unvouched = await login(stack, ADMIN_PASSWORD, (CLIENT_ADDRESS_KEY, "203.0.113.1"))
        wrong_token = await login(stack, ADMIN_PASSWORD, *vouched("203.0.113.1", "not-it"))
        # Failing as admin "from" 203.0.113.1 slows down only that address.
        guesses = [await login(stack, "wrong", *vouched("203.0.113.1")) for _ in range(6)]
        here = await login(stack, ADMIN_PASSWORD)
        there = await login(stack, ADMIN_PASSWORD, *vouched("203.0.113.1"))
        return unvouched, wrong_token, guesses, here, there

    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            return await scenario(stack)

    unvouched, wrong_token, guesses, here, there = asyncio.run(run())

    for code, details in (unvouched, wrong_token):
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert "FORGE_CLUSTER_TOKEN" in details
    assert [code for code, _ in guesses] == [grpc.StatusCode.UNAUTHENTICATED] * 5 + [
        grpc.StatusCode.RESOURCE_EXHAUSTED
    ]
    assert here[0] == grpc.StatusCode.OK
    assert there[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
