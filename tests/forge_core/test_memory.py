"""forge_core keeps the memory a step frees: counted in page faults of a real process."""

from __future__ import annotations

import platform

import pytest

from forge_core import memory
from tests.forge_core.fresh_process import report_of

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the tuning is glibc's mallopt",
)

# A fresh interpreter imports forge_core, then 20 times allocates and fills 16 arrays of 512 KiB
# and frees them (a training step's buffers, step after step), counting the page faults of
# those 20 cycles. The arrays are smaller than a transparent huge page, as most of a step's
# are, so each page faults on its own.
_CYCLES = """
import json, resource, sys
import numpy as np
import forge_core
from forge_core import memory
from tests.forge_core.fresh_process import report_of
def cycle():
    arrays = [np.empty(512 << 10, dtype=np.uint8) for _ in range(16)]
    for a in arrays:
        a.fill(1)
    del arrays, a
cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    cycle()
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
json.dump({"faults": faults}, sys.stdout)
"""
PAGES_PER_CYCLE = 16 * (512 << 10) // 4096


def _faults(**env: str) -> int:
    report = report_of(_CYCLES, (*memory.GLIBC_VARIABLES, "FORGE_MALLOC"), env)
    return int(report["faults"])


def test_a_freed_buffer_comes_back_without_page_faults() -> None:
    assert _faults() < PAGES_PER_CYCLE // 10


def test_system_leaves_glibc_returning_memory_to_the_os() -> None:
    # the cycles fault their pages in again (nearly all of them): what the tuning saves
    assert _faults(FORGE_MALLOC="system") >= 15 * PAGES_PER_CYCLE


def test_glibc_variables_set_by_the_user_win() -> None:
    assert _faults(MALLOC_MMAP_THRESHOLD_=str(1 << 20)) >= 15 * PAGES_PER_CYCLE


def test_a_misspelt_choice_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORGE_MALLOC", "kept")
    with pytest.raises(ValueError, match="FORGE_MALLOC must be keep or system"):
        memory.keep_freed_memory()
