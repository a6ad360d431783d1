"""docs/running.md keeps up with the code: every setting the services read, every flag of
`forge up`, and every variable docker-compose.yml takes are described there."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from forge_cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "running.md").read_text()
# protos/ for azuraforge/tls.py, which reads the FORGE_TLS_* settings for every service.
PACKAGES = ("scheduler", "trainer", "gateway", "forge_cli", "forge_learner", "apps", "protos")
# A whole variable name: FORGE_ and words, not a prefix such as FORGE_TRAINER_.
VARIABLE = re.compile(r"\bFORGE_[A-Z][A-Z_]*[A-Z]\b")


def test_every_setting_the_code_reads_is_in_the_settings_table() -> None:
    read = {
        name
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        for name in VARIABLE.findall(path.read_text())
    }
    table = set(re.findall(r"^\| `(FORGE_[A-Z_]+)` \|", DOC, flags=re.MULTILINE))
    assert read - table == set(), "add these to the settings table of docs/running.md"


def test_every_variable_the_compose_file_takes_is_described() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    taken = set(re.findall(r"\$\{(FORGE_[A-Z_]+)", compose))
    assert taken, "docker-compose.yml takes FORGE_* variables"
    assert {name for name in taken if f"`{name}`" not in DOC} == set()


def test_every_flag_of_forge_up_is_in_its_table() -> None:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    up = commands.choices["up"]
    flags = {
        option
        for action in up._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    assert flags
    assert {flag for flag in flags if f"| `{flag}" not in DOC} == set()
