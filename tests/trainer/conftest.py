"""The trainer tests' pipeline, installed for real, and a check that no test leaves a process.

``trainer_probe`` is registered the way any plugin is: a distribution's metadata on
``sys.path`` declares it under ``forge.pipelines``, and discovery finds it there. Only the
metadata is written (into a temporary folder); its module is ``tests.trainer.probe``.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.trainer.probe import ENTRY_POINT


@pytest.fixture(scope="package", autouse=True)
def probe_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    site = tmp_path_factory.mktemp("site")
    dist_info = site / "forge_trainer_probe-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: forge-trainer-probe\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(
        f"[forge.pipelines]\ntrainer_probe = {ENTRY_POINT}\n"
    )
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    yield site
    sys.path.remove(str(site))
    importlib.invalidate_caches()


@pytest.fixture(autouse=True)
def no_process_left() -> Iterator[None]:
    """Fail a test that leaves a job's process running, and clean up after it."""
    yield
    left = multiprocessing.active_children()
    for process in left:
        process.kill()
        process.join()
    assert not left, f"processes left running: {left}"
