"""Who a login comes from, told to the scheduler for its per-address throttle.

The scheduler counts failed logins per client address as well as per username
(`scheduler/throttle.py`). A browser's login reaches it through a gateway, so the gateway says
whose login it forwards, in the gRPC metadata `forge-client-address`, and vouches for it with
the cluster token in `forge-cluster-token` (`FORGE_CLUSTER_TOKEN`, or the file the scheduler
wrote when both share a machine, as under `forge up`); `scheduler/client_address.py` says why
the scheduler believes the address only then. A gateway without the token sends neither, and
the scheduler counts every login through it as coming from the gateway: then one person's
failures slow down everyone's logins, which `forge gateway` warns about when it starts.

The client is the connection's peer, unless that peer is a proxy listed in
`FORGE_GATEWAY_TRUSTED_PROXIES` (a load balancer, a TLS terminator): then `X-Forwarded-For` is
read from the right, skipping what each trusted proxy added, and the first address that is not
a trusted proxy is the client. What lies left of it was written by the client itself and is
never believed; neither is the header when the peer is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from gateway.keys import settings
from gateway.settings import Network

CLIENT_ADDRESS_KEY = "forge-client-address"
CLUSTER_TOKEN_KEY = "forge-cluster-token"
FORWARDED_FOR = "X-Forwarded-For"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def vouched_address(request: web.Request) -> tuple[tuple[str, str], ...]:
    """The metadata that tells the scheduler who sent `request`; none without a cluster token."""
    token = settings(request).cluster_token
    address = client_address(request, settings(request).trusted_proxies)
    if token is None or address is None:
        return ()
    return ((CLIENT_ADDRESS_KEY, str(address)), (CLUSTER_TOKEN_KEY, token))


def client_address(request: web.Request, trusted: Sequence[Network]) -> Address | None:
    """The address `request` comes from (see the module docstring); None if it has none."""
    client = _parse(request.remote or "")
    if client is None or not trusted:
        return client
    forwarded = ",".join(request.headers.getall(FORWARDED_FOR, []))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    while hops and _is_trusted(client, trusted):
        hop = _parse(hops.pop())
        if hop is None:
            break  # a trusted proxy wrote something that is not an address: keep the proxy
        client = hop
    return client


def _is_trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _parse(text: str) -> Address | None:
    """An IP address, also as proxies write one with a port (`1.2.3.4:80`, `[::1]:80`)."""
    candidates = [text]
    if text.startswith("["):
        candidates.append(text[1:].partition("]")[0])
    elif text.count(":") == 1:
        candidates.append(text.partition(":")[0])
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return address
    return None
