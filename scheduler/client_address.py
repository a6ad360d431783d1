"""Where a login comes from: the client address that login throttling counts (`scheduler.throttle`).

A client calling the scheduler directly (the CLI, grpcurl, a script) is known by its
connection's peer address, which it cannot choose. A browser's login comes through the
gateway, whose own address would make everybody's failed logins count together, so that one
person's mistakes slowed down everyone. So the gateway says whose login it forwards, in the
metadata `forge-client-address`, and proves that it is a gateway of this cluster with the
cluster token in `forge-cluster-token`: the token the trainers hold already, and which a
gateway may hold too, since every password and access token passes through it anyway.

A claimed address without the right token is refused (UNAUTHENTICATED), never believed: a
direct client cannot pretend to be many places to escape the per-address limit, and a gateway
with a wrong token is noticed at its first login instead of quietly counting everyone as one.

gRPC writes peers as `ipv4:1.2.3.4:5678`, `ipv6:[::1]:5678` or `unix:/path`. An address is
kept as its IP (an IPv4-mapped IPv6 one as the IPv4 address), an IPv6 one as its /64 network,
which one machine usually holds whole, and anything else as it is, cut to the column's length.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable

from scheduler.auth import Unauthenticated
from scheduler.db.models import ADDRESS_LENGTH

CLIENT_ADDRESS_KEY = "forge-client-address"
CLUSTER_TOKEN_KEY = "forge-cluster-token"
IPV6_NETWORK_BITS = 64


def login_address(
    metadata: Iterable[tuple[str, str | bytes]], peer: str, *, cluster_token: str
) -> str:
    """The address a login counts against: the gateway's word for it, or the peer's address."""
    values = {key.lower(): _text(value) for key, value in metadata}
    claimed = values.get(CLIENT_ADDRESS_KEY)
    if claimed is None:
        return address_key(peer_host(peer))
    presented = values.get(CLUSTER_TOKEN_KEY, "")
    # compare_digest takes as long for a near miss as for a wild guess.
    if not hmac.compare_digest(presented.encode(), cluster_token.encode()):
        raise Unauthenticated(
            f"{CLIENT_ADDRESS_KEY} is believed only from a gateway that sends the cluster token "
            f"in {CLUSTER_TOKEN_KEY}: give the gateway the scheduler's FORGE_CLUSTER_TOKEN"
        )
    return address_key(claimed)


def peer_host(peer: str) -> str:
    """The host part of a gRPC peer (`ipv4:1.2.3.4:5678` is `1.2.3.4`); others as they are."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rpartition(":")[0].strip("[]")
    return peer


def address_key(text: str) -> str:
    """`text` as the throttle counts it (see the module docstring)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return text[:ADDRESS_LENGTH]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network((address, IPV6_NETWORK_BITS), strict=False))
    return str(address)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value
