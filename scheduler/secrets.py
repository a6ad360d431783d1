"""Secrets the scheduler makes up itself the first time it runs, kept in files only it may read.

An unset `FORGE_JWT_SECRET` or `FORGE_CLUSTER_TOKEN` must not mean a new value on every start:
tokens issued before a restart would stop verifying and local trainers could no longer register.
So the first start writes a random value into `$FORGE_DATA_DIR` and every later start, and
every other process on the machine that may read the file (local trainers read the cluster
token), reuses it.

The file is written whole under a temporary name with mode 0600 and then hard-linked into
place: a link never replaces an existing file, so when two processes start at once exactly one
value wins, both read that one, and nobody ever sees a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

# 32 random bytes: the length RFC 7518 asks of an HS256 key, and far past guessing for a token.
SECRET_BYTES = 32


class SecretFileError(RuntimeError):
    """A secret file exists but cannot be used; the message says which file and what to do."""


def read_or_create_secret(path: Path) -> str:
    """The secret stored in `path`, first writing a new random one there if the file is missing."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            # The umask may only take bits away from 0600; this makes the mode exactly 0600.
            os.chmod(temporary, 0o600)
            file.write(secrets.token_urlsafe(SECRET_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        # If another process created it first, its value is the one everybody uses.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise SecretFileError(
            f"{path} is empty. Delete it to have a new secret generated, or write one into it."
        )
    return value
