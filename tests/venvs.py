"""A virtual environment of its own, layered on the project's, for tests that `pip install`.

A test that installs a plugin must not change the project's `.venv`, which every other test
runs in. `layered_venv` makes a new one without pip, from the same base Python, whose
site-packages holds one `.pth` file that reads the project's site-packages at start
(`site.addsitedir`, so its own `.pth` files are read too: the project's editable install
imports there). What a test installs with `pip_install` goes into the new environment's own
site-packages, which is its site folder, as in a user's virtual environment; the interpreter
reads it at start and `forge_learner.registry.refresh_installed` reads it again.
"""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

BASE = "_forge_project.pth"


def layered_venv(folder: Path) -> Path:
    """A new virtual environment in `folder` that imports everything the project's does; its
    Python."""
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    own = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
    (Path(own) / BASE).write_text("\n".join(lines) + "\n")
    return python


def pip_install(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pip install ARGS` into the environment of `python`, with the project's pip, offline.

    No dependencies and no build isolation: the project's setuptools builds a plugin.
    """
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    pip += ["--no-build-isolation", "--no-index", "--disable-pip-version-check", "-q"]
    return subprocess.run([*pip, *args], capture_output=True, text=True, timeout=180)


def site_packages(python: Path) -> Path:
    """The site folder of the environment of `python`."""
    return next((python.parent.parent / "lib").glob("python3*/site-packages"))


def add_commands(python: Path) -> None:
    """Give the environment of `python` the commands a user's has: `forge`, and a `pip` (the
    project's, installing into this environment)."""
    bin_dir = python.parent
    (bin_dir / "forge").write_text(
        f"#!{python}\nimport sys\n\nfrom forge_cli.main import main\n\nsys.exit(main())\n"
    )
    (bin_dir / "pip").write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m pip --python "{python}" "$@"\n'
    )
    for command in ("forge", "pip"):
        (bin_dir / command).chmod(0o755)
