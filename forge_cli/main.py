"""Entry point of the `forge` command.

Each subcommand lives in its own module with a `register(subparsers)` function that adds its
parser and sets `run`, so adding a command means adding a module and listing it in `COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from forge_cli import (
    experiments,
    login,
    pipelines,
    predict,
    run,
    serve_gateway,
    serve_scheduler,
    serve_trainer,
    submit,
    sweep,
    sweeps,
    up,
    version,
)


class Command(Protocol):
    """A subcommand module."""

    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the subcommand's parser, with `run` set as a default."""


COMMANDS: tuple[Command, ...] = (
    up,
    login,
    submit,
    experiments,
    sweep,
    sweeps,
    predict,
    pipelines,
    run,
    serve_scheduler,
    serve_trainer,
    serve_gateway,
    version,
)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, with the command list's help column wide enough for every name.

    argparse measures command names without the indent it prints them with, so a name of
    nine letters or more ("pipelines") would push its help onto the next line.
    """

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction):
            indent = self._current_indent + self._indent_increment
            for subaction in action._get_subactions():
                length = len(self._format_action_invocation(subaction)) + indent
                self._action_max_length = max(self._action_max_length, length)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="forge",
        description="AzuraForge: train neural networks and watch them learn, live.",
        formatter_class=HelpFormatter,
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.register(subparsers)
    return parser


CLOSED_OUTPUT_EXIT = 128 + signal.SIGPIPE
"""What `forge … | head` exits with once `head` has read enough: a shell's SIGPIPE status."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    try:
        if run is None:
            parser.print_help()
            return 0
        return run(args)
    except BrokenPipeError:
        # Whoever read the output stopped reading (`forge experiments | head`): stop quietly,
        # and point stdout at nowhere so the interpreter's last flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return CLOSED_OUTPUT_EXIT


if __name__ == "__main__":
    sys.exit(main())
