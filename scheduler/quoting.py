"""Quoting what someone typed inside an error message, cut short so a long input cannot swamp it.

An error that echoes a 10,000-character pipeline name is unreadable, and where it travels as
gRPC metadata (a status message, the field violations: 16 KiB in all) it pushes the answer past
the limit, so the client gets a transport error instead of the one meant for it. So every echo
of input goes through `shorten` or `quote`: at most `LIMIT` characters of it, with the cut
marked by "…". (The engine has the same rule for its own messages; the scheduler keeps its own
copy so that it needs no engine.)
"""

from __future__ import annotations

LIMIT = 100
ELLIPSIS = "…"


def shorten(text: str, limit: int = LIMIT) -> str:
    """`text` itself when it has at most `limit` characters, else its first `limit` and "…"."""
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


def quote(text: str, limit: int = LIMIT) -> str:
    """`text` shortened and quoted as Python writes a string (`'alice'`), for messages."""
    return repr(shorten(text, limit))
