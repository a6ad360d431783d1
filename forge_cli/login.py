"""`forge login`: exchange a username and password for an access token and keep it.

The password is asked for without echo, or read from stdin with `--password-stdin` (as
`docker login` does), so it never appears in the shell's history or the process list. The
token is stored per scheduler address (see `forge_cli.client`), and the other client commands
send it until it expires (12 hours by default), when they say to log in again.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from azuraforge.v1 import auth_pb2
from forge_cli.client import (
    EXIT_USAGE,
    CommandError,
    SavedLogin,
    add_scheduler_flag,
    connect,
    run_command,
    save_login,
    scheduler_address,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "login",
        help="log in to the scheduler and keep the token for the other commands",
        description=(
            "Log in with a username and password and store the access token for this "
            "scheduler in ~/.config/azuraforge/tokens.json (mode 0600). `forge up` prints the "
            "first admin's password when it creates the account."
        ),
    )
    add_scheduler_flag(parser)
    parser.add_argument("--username", "-u", help="who to log in as (asked for if left out)")
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin instead of asking",
    )
    parser.set_defaults(run=lambda args: run_command("login", login, args))


def login(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    username = args.username or input("Username: ").strip()
    password = read_password(args.password_stdin)
    if not username or not password:
        raise CommandError("give both a username and a password", EXIT_USAGE)
    with connect(address, logged_in=False) as connection:
        answer: auth_pb2.LoginResponse = connection.call(
            connection.auth.Login,
            auth_pb2.LoginRequest(username=username, password=password),
            logging_in=True,
        )
    expires_at = answer.expires_at.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")
    path = save_login(address, SavedLogin(answer.access_token, answer.user.username, expires_at))
    role = "admin" if answer.user.role == auth_pb2.ROLE_ADMIN else "user"
    print(
        f"Logged in to {address} as {answer.user.username} ({role}) until {expires_at}; "
        f"token saved in {path}"
    )
    return 0


def read_password(from_stdin: bool) -> str:
    """The password from stdin's first line, or asked for without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return getpass.getpass("Password: ")
