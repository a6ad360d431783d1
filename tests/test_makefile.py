"""`make help` lists every target the Makefile declares, so none is found only by reading it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_help_lists_every_phony_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    declared = {
        target
        for line in re.findall(r"^\.PHONY:(.*)$", makefile, flags=re.MULTILINE)
        for target in line.split()
    }

    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = set(re.findall(r"^  make (\S+)", shown, flags=re.MULTILINE))

    assert "e2e" in declared
    assert declared - listed == set()
