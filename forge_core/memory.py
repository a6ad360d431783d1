"""Keep the memory a training step frees for the next step, instead of handing it back to the OS.

Why: every training step allocates and frees the same large arrays (an LSTM's gate buffers, a
convolution's columns, the gradients). With glibc's defaults, blocks from 128 KiB up come from
``mmap`` and go back on ``free``, and the heap's top is trimmed as soon as 128 KiB of it are
free, so the next step takes every page again as a fresh, zero-filled page fault. On the
benchmark machine that cost the ``lstm`` workload about 2,400 page faults and 7 ms of kernel
time a step, more than the rest of its step (docs/benchmarks.md).

``keep_freed_memory`` asks glibc (``mallopt``) to serve blocks up to 32 MiB (its largest
threshold) from the heap, to keep up to 256 MiB of free heap, and to grow it 64 MiB at a time.
A process then holds on to the peak memory of its steps, which it needs again at the next one.
forge_core calls it once, on import.

It changes nothing where the C library is not glibc, when ``FORGE_MALLOC=system``, or when the
user has set glibc's own variables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_TOP_PAD_``): those win.
"""

from __future__ import annotations

import ctypes
import os
import platform

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MIB = 1 << 20
SETTINGS = {
    _M_MMAP_THRESHOLD: 32 * MIB,  # HEAP_MAX_SIZE / 2 on 64-bit: glibc refuses more
    _M_TRIM_THRESHOLD: 256 * MIB,
    _M_TOP_PAD: 64 * MIB,
}
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as the module says; True if it did."""
    choice = os.environ.get("FORGE_MALLOC", "").strip().lower() or "keep"
    if choice not in ("keep", "system"):
        raise ValueError(f"FORGE_MALLOC must be keep or system, got {choice[:40]!r}")
    if choice == "system" or any(name in os.environ for name in GLIBC_VARIABLES):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt answers 1 when it took the value
    return all(mallopt(parameter, value) == 1 for parameter, value in SETTINGS.items())
