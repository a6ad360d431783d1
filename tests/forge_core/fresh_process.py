"""Run a snippet in a fresh interpreter: for settings forge_core reads once, on import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any


def report_of(script: str, unset: Iterable[str], environment: Mapping[str, str]) -> dict[str, Any]:
    """What ``script`` prints as JSON, run by this Python without the variables ``unset`` and
    with ``environment``."""
    dropped = set(unset)
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **environment},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report
