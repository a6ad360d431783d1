"""Writing a file whole or not at all: what every saved weight, checkpoint, cache entry, token
and config of forge goes through.

The new content goes to a temporary file beside the target, with a name no other writer uses
(so two processes saving the same checkpoint never write into one file), is flushed to disk,
and is renamed over the target: a reader, or a crash at any moment, sees the old file or the new
one, never a part. On any error the temporary file is removed and the target left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_write(path: str | Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file to write into; on leaving the block without error it replaces `path`.

    The file is readable by its owner only (``0o600``), unless `mode` says otherwise; the mode
    is set before anything is written to it, whatever the umask.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        if mode is not None:
            os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
