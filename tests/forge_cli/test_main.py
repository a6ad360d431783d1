"""The `forge` command: the installed console script and the parser behind it."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from forge_cli.main import CLOSED_OUTPUT_EXIT, build_parser, main

# The console script pip installs beside the interpreter running the tests.
FORGE = Path(sys.executable).parent / "forge"


def run_forge(*args: str) -> subprocess.CompletedProcess[str]:
    assert FORGE.exists(), f"{FORGE} is missing: install the project with `pip install -e .`"
    return subprocess.run([str(FORGE), *args], capture_output=True, text=True, timeout=60)


def subcommand_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (subparsers,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def test_help_lists_every_command() -> None:
    result = run_forge("--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: forge")
    assert "version" in subcommand_parsers()
    for name in subcommand_parsers():
        assert f"    {name} " in result.stdout


def test_every_command_has_something_to_run() -> None:
    for name, parser in subcommand_parsers().items():
        assert callable(parser.get_default("run")), f"`forge {name}` sets no `run`"


def test_version_prints_azuraforge_and_numpy_versions() -> None:
    result = run_forge("version")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"azuraforge {importlib.metadata.version('azuraforge')}"
    assert lines[1] == f"numpy {np.__version__}"


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "commands:" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])

    assert exit_info.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


def test_a_reader_that_stops_reading_ends_forge_quietly() -> None:
    """`forge … | head` once head has what it wants: no traceback, a shell's SIGPIPE status."""
    reading, writing = os.pipe()
    os.close(reading)  # gone before forge writes its first line
    try:
        result = subprocess.run(
            [str(FORGE), "version"], stdout=writing, stderr=subprocess.PIPE, text=True, timeout=60
        )
    finally:
        os.close(writing)

    assert result.stderr == ""
    assert result.returncode == CLOSED_OUTPUT_EXIT == 141
