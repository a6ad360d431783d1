"""Where the learner keeps what it writes: `FORGE_DATA_DIR`, read as every service reads it.

The services read their settings through `azuraforge.settings`, which the learner may not
import (it knows nothing of the services, docs/architecture.md); this is the one variable the
learner needs, read by the same rule: surrounding whitespace stripped, blank is unset, unset is
`./var`, so an empty value never means the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT = Path("var")


def data_dir() -> Path:
    """`$FORGE_DATA_DIR`, `~` expanded, else `./var`."""
    given = os.environ.get("FORGE_DATA_DIR", "").strip()
    return Path(given).expanduser() if given else DEFAULT
