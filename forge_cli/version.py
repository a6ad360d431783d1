"""`forge version`: which AzuraForge and which NumPy this installation runs, for bug reports."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
import sys

import numpy as np


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "version",
        help="print the versions of AzuraForge, NumPy and Python",
        description="Print the versions of AzuraForge, NumPy and Python.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        azuraforge_version = importlib.metadata.version("azuraforge")
    except importlib.metadata.PackageNotFoundError:
        print(
            "forge: the azuraforge distribution is not installed in this Python environment; "
            "run `pip install -e .` in the repository (or `make up`, which does it for you).",
            file=sys.stderr,
        )
        return 1
    print(f"azuraforge {azuraforge_version}")
    print(f"numpy {np.__version__}")
    print(f"python {platform.python_version()}")
    return 0
