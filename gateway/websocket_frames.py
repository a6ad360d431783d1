"""A WebSocket text frame as the server sends it (RFC 6455 §5.2), built once and written as is.

The live fan-out writes the same event to many sockets; building the frame's bytes once and
handing them to each socket's transport costs one `write` per viewer, with no per-viewer
encoding and no coroutine. A server's frames are never masked, and the gateway's sockets are
uncompressed (see `gateway.routes.events`), so a frame is a 2-, 4- or 10-byte header and the
UTF-8 text.
"""

from __future__ import annotations

import struct

FIN_TEXT = 0x81
"""FIN set (the whole message in one frame), opcode 1 (text)."""


def text_frame(text: str) -> bytes:
    """`text` as one unmasked, uncompressed WebSocket text frame."""
    payload = text.encode()
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + payload
