"""What the client commands (`forge login`, `submit`, `experiments`) share: where, who, and errors.

- **Where**: the scheduler at `--scheduler HOST:PORT`, else `$FORGE_SCHEDULER_ADDR`, else
  `127.0.0.1:$FORGE_SCHEDULER_PORT` (port 50051), the same default the services use; over TLS
  when `FORGE_TLS_CA` names the CA that signed the scheduler's certificate (`azuraforge.tls`).
- **Who**: `forge login` keeps the access token in `$XDG_CONFIG_HOME/azuraforge/tokens.json`
  (`~/.config/azuraforge/tokens.json` by default), mode 0600, one token per scheduler address,
  so that logging in to a test stack does not log you out of another. It is the user's
  credential, not the server's, which is why it lives in the user's config folder and not in a
  service's `FORGE_DATA_DIR`. `FORGE_TOKEN_FILE` names another file; `FORGE_TOKEN` set to a
  token skips the file altogether (scripts, CI).
- **Errors**: a failed RPC is printed as one line, `forge COMMAND: what went wrong`, with what
  to do where there is something to do, and ends the command with an exit status by kind:

| status | meaning |
|---|---|
| 0 | done |
| 1 | the experiment failed or was cancelled (`submit --watch`), or any other failure |
| 2 | a bad flag or setting (INVALID_ARGUMENT, FAILED_PRECONDITION) |
| 3 | not logged in, the login expired, a wrong password, or not allowed |
| 4 | no such experiment or artifact |
| 5 | the scheduler cannot be reached |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from azuraforge.settings import (
    DEFAULT_SCHEDULER_PORT,
    Flag,
    ForgeEnvironment,
    SettingsError,
    read_environment,
)
from azuraforge.tls import TlsSettings, TlsSettingsError, connection_hint
from azuraforge.v1 import auth_pb2_grpc, scheduler_pb2_grpc, sweep_pb2_grpc
from forge_core.files import atomic_write

# Every unary call; watching has no deadline, it lasts as long as the experiment.
CALL_TIMEOUT_S = 30.0

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_UNAVAILABLE = 5
EXIT_INTERRUPTED = 130

Metadata = tuple[tuple[str, str], ...]
Answer = TypeVar("Answer")


class CommandError(Exception):
    """Ends a command with `message` on stderr and `status` as its exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def add_scheduler_flag(parser: Any, *, inherited: bool = False) -> None:
    """The `--scheduler HOST:PORT` flag every client command takes.

    `inherited` for a sub-action's parser, whose flag must not reset the one given before it.
    """
    extra = {"default": argparse.SUPPRESS} if inherited else {}
    parser.add_argument(
        "--scheduler",
        **extra,
        metavar="HOST:PORT",
        help=(
            "the scheduler to talk to (default $FORGE_SCHEDULER_ADDR, else "
            f"127.0.0.1:$FORGE_SCHEDULER_PORT, port {DEFAULT_SCHEDULER_PORT})"
        ),
    )


def scheduler_address(flag: str | None = None) -> str:
    """The flag, else `FORGE_SCHEDULER_ADDR`, else the local default."""
    return environment({"scheduler_addr": Flag("--scheduler", flag or None)}).scheduler_address


def environment(flags: Mapping[str, Flag] | None = None) -> ForgeEnvironment:
    """The `FORGE_*` settings of this process, a bad one ending the command as a usage error."""
    try:
        return read_environment(flags=flags)
    except SettingsError as error:
        raise CommandError(str(error), EXIT_USAGE) from None


# Tokens


def token_file() -> Path:
    """Where `forge login` keeps tokens; see the module docstring."""
    named = environment().token_file
    if named is not None:
        return named.expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(config).expanduser() / "azuraforge" / "tokens.json"


@dataclass(frozen=True)
class SavedLogin:
    """A token `forge login` stored for one scheduler."""

    token: str
    username: str
    expires_at: str


def save_login(address: str, login: SavedLogin) -> Path:
    """Store the token for `address` (mode 0600, written whole under a temporary name)."""
    path = token_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    logins = _read_logins(path)
    logins[address] = {
        "token": login.token,
        "username": login.username,
        "expires_at": login.expires_at,
    }
    with atomic_write(path, mode=0o600) as file:
        file.write(json.dumps(logins, indent=2, sort_keys=True).encode())
    return path


def load_login(address: str) -> SavedLogin | None:
    """The token stored for `address`; `FORGE_TOKEN` wins over the file."""
    token = environment().token
    if token is not None:
        return SavedLogin(token, "", "")
    entry = _read_logins(token_file()).get(address)
    if not isinstance(entry, dict) or not entry.get("token"):
        return None
    return SavedLogin(
        str(entry["token"]), str(entry.get("username", "")), str(entry.get("expires_at", ""))
    )


def _read_logins(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise CommandError(
            f"cannot read the saved logins in {path} ({error}); delete it and log in again"
        ) from None
    return data if isinstance(data, dict) else {}


# Calls


@dataclass
class Connection:
    """A channel to the scheduler with the caller's token, and the stubs over it."""

    address: str
    channel: grpc.Channel
    metadata: Metadata

    @property
    def scheduler(self) -> scheduler_pb2_grpc.SchedulerServiceStub:
        return scheduler_pb2_grpc.SchedulerServiceStub(self.channel)

    @property
    def auth(self) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self.channel)

    @property
    def sweeps(self) -> sweep_pb2_grpc.SweepServiceStub:
        return sweep_pb2_grpc.SweepServiceStub(self.channel)

    def call(
        self,
        method: Callable[..., Answer],
        request: Any,
        *,
        timeout: float = CALL_TIMEOUT_S,
        logging_in: bool = False,
    ) -> Answer:
        """A unary call with the caller's token; a failure ends the command as `rpc_error` says.

        `method` is a stub's, e.g. `connection.call(connection.scheduler.GetExperiment, request)`.
        """
        try:
            return method(request, metadata=self.metadata, timeout=timeout)
        except grpc.RpcError as error:
            raise rpc_error(error, self.address, logging_in=logging_in) from None


@contextlib.contextmanager
def connect(address: str, *, logged_in: bool = True) -> Iterator[Connection]:
    """A connection to `address`, carrying the saved token when `logged_in`.

    Without a saved token, says to run `forge login` (exit 3) before any call is made.
    """
    metadata: Metadata = ()
    if logged_in:
        login = load_login(address)
        if login is None:
            raise CommandError(
                f"not logged in to the scheduler at {address}: run `forge login"
                f"{_scheduler_flag(address)}` first",
                EXIT_AUTH,
            )
        metadata = (("authorization", f"Bearer {login.token}"),)
    with client_tls().channel(address) as channel:
        yield Connection(address, channel, metadata)


def client_tls() -> TlsSettings:
    """The `FORGE_TLS_*` settings the commands connect with; a bad one ends the command (2)."""
    env = environment()
    try:
        return TlsSettings.from_environment(env)
    except TlsSettingsError as error:
        raise CommandError(str(error), EXIT_USAGE) from None


def rpc_error(error: grpc.RpcError, address: str, *, logging_in: bool = False) -> CommandError:
    """A failed call as one line saying what to do, with the exit status for its kind.

    `logging_in`: the call was the login itself, so "log in again" would be no help.
    """
    code: grpc.StatusCode = error.code()
    details: str = error.details() or code.name
    flag = _scheduler_flag(address)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        hint = ""
        if code is grpc.StatusCode.UNAVAILABLE:
            hint = connection_hint(details, tls=environment().tls_ca is not None)
        if hint:
            return CommandError(
                f"cannot reach the scheduler at {address}: {hint}", EXIT_UNAVAILABLE
            )
        if code is grpc.StatusCode.UNAVAILABLE and "connect" in details.lower():
            return CommandError(
                f"cannot reach the scheduler at {address}: is it running? Start everything "
                "with `forge up`, or point --scheduler / FORGE_SCHEDULER_ADDR at it",
                EXIT_UNAVAILABLE,
            )
        return CommandError(
            f"the scheduler at {address} is unavailable: {details}", EXIT_UNAVAILABLE
        )
    if code is grpc.StatusCode.UNAUTHENTICATED:
        hint = "" if logging_in else f" (run `forge login{flag}`)"
        return CommandError(f"{details}{hint}", EXIT_AUTH)
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return CommandError(details, EXIT_AUTH)
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        return CommandError(details, EXIT_AUTH if "login" in details else EXIT_FAILED)
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        return CommandError(details, EXIT_USAGE)
    if code is grpc.StatusCode.NOT_FOUND:
        return CommandError(details, EXIT_NOT_FOUND)
    return CommandError(f"the scheduler answered {code.name}: {details}")


def _scheduler_flag(address: str) -> str:
    """` --scheduler ADDRESS` for a hint, unless it is the address used without one."""
    return "" if address == scheduler_address() else f" --scheduler {address}"


def run_command(name: str, body: Any, *args: Any) -> int:
    """Run `body(*args)` -> exit status, turning `CommandError` and Ctrl-C into one line."""
    try:
        status: int = body(*args)
    except CommandError as error:
        print(f"forge {name}: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"forge {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return status
