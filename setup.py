"""The one compiled part of the project: forge_core's kernels (forge_core/_native/).

Everything else about the package is in pyproject.toml; this file exists because the
compiler's flags depend on the processor family. The extension is optional: where it cannot
be built (no C compiler), the install goes on and forge_core runs the same layers on NumPy
alone (forge_core/native.py says which one runs).
"""

import platform
from pathlib import Path

from setuptools import Extension, setup

flags = ["-O3", "-fno-math-errno", "-fno-trapping-math"]
if platform.machine().lower() in ("x86_64", "amd64"):
    # the AVX-512 variant of each loop then runs on 512-bit vectors
    flags.append("-mprefer-vector-width=512")

setup(
    ext_modules=[
        Extension(
            "forge_core._native",
            sources=sorted(str(p) for p in Path("forge_core/_native").glob("*.c")),
            depends=sorted(str(p) for p in Path("forge_core/_native").glob("*.h")),
            extra_compile_args=flags,
            optional=True,
        )
    ]
)
