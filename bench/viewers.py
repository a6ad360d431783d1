"""Thousands of WebSocket viewers in one process, cheap enough not to be what is measured.

An aiohttp client spends tens of microseconds per message; at 5,000 viewers that alone would
swamp the two cores the gateway is measured on, and the latency measured would be the
client's. So each viewer here is a bare `asyncio.Protocol`: it sends the upgrade request
(the token as the `bearer.<token>` subprotocol, as the web UI does), then splits the server's
unmasked frames itself and notes, for each text frame, the event's `seq` and the time the
bytes arrived. `emitted_at` is parsed once per event, by the first viewer that gets it.

Latency is arrival time minus `emitted_at`, both on this machine's clock.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime

SEQ = re.compile(rb'"seq": ?(\d+)')
EMITTED_AT = re.compile(rb'"emitted_at": ?"([^"]+)"')
OPCODE_TEXT, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x1, 0x8, 0x9, 0xA


@dataclass
class Emissions:
    """When each event of one experiment was emitted, by seq (filled by the first viewer)."""

    at: dict[int, float] = field(default_factory=dict)

    def note(self, seq: int, payload: bytes) -> None:
        if seq in self.at:
            return
        found = EMITTED_AT.search(payload)
        if found is not None:
            self.at[seq] = datetime.fromisoformat(found.group(1).decode()).timestamp()


class Viewer(asyncio.Protocol):
    """One WebSocket viewer of an experiment's events; see the module docstring."""

    def __init__(self, request: bytes, emissions: Emissions) -> None:
        self._request = request
        self.emissions = emissions
        self.arrivals: list[tuple[int, float]] = []
        self.close_code: int | None = None
        self.close_reason = ""
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError(f"connection lost before upgrade: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer
        buffer += data
        if not self.upgraded.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
        while len(buffer) >= 2:
            opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            self._frame(opcode, payload, now)

    def _frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == OPCODE_TEXT:
            found = SEQ.search(payload)
            if found is not None:
                seq = int(found.group(1))
                self.arrivals.append((seq, now))
                self.emissions.note(seq, payload)
        elif opcode == OPCODE_PING:
            self._send(OPCODE_PONG, payload)
        elif opcode == OPCODE_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self.close_reason = payload[2:].decode(errors="replace")
            self._send(OPCODE_CLOSE, payload[:2])
            if self._transport is not None:
                self._transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        # A client's frames are masked; a zero mask leaves the payload as it is.
        if self._transport is not None and not self._transport.is_closing():
            header = bytes([0x80 | opcode, 0x80 | len(payload)]) + b"\0\0\0\0"
            self._transport.write(header + payload)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def upgrade_request(host: str, port: int, path: str, token: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: azuraforge.v1, bearer.{token}\r\n\r\n"
    ).encode()


async def open_viewers(
    port: int,
    token: str,
    experiments: list[str],
    count: int,
    emissions: dict[str, Emissions],
    concurrency: int = 100,
) -> list[tuple[str, Viewer]]:
    """`count` viewers spread evenly over `experiments`, each upgraded; opened `concurrency`
    at a time, as a crowd arriving would, not all in one burst."""
    loop = asyncio.get_running_loop()
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> tuple[str, Viewer]:
        experiment_id = experiments[index % len(experiments)]
        path = f"/api/v1/experiments/{experiment_id}/events"
        request = upgrade_request("127.0.0.1", port, path, token)
        async with limit:
            _, viewer = await loop.create_connection(
                lambda: Viewer(request, emissions[experiment_id]), "127.0.0.1", port
            )
            await viewer.upgraded
        return experiment_id, viewer

    return list(await asyncio.gather(*(one(index) for index in range(count))))
