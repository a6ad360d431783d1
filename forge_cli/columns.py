"""Aligned text columns, for tables that the commands print to a terminal."""

from __future__ import annotations

from collections.abc import Sequence


def align(rows: Sequence[Sequence[str]], gap: str = "  ") -> list[str]:
    """Each row as one line, columns padded to their widest cell (the last one is not padded).

    Rows have the same number of cells; a long last column (help text) does not widen the
    others.
    """
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        gap.join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
        for row in rows
    ]
