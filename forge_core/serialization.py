"""Save and load state dicts (name -> tensor) as NumPy ``.npz`` files."""

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forge_core.backend import asnumpy
from forge_core.tensor import Tensor


def save(state: Mapping[str, Any], path: str | Path) -> None:
    """Write ``state`` (tensors or arrays by name) to ``path``, atomically."""
    path = Path(path)
    arrays = {
        k: asnumpy(v.data) if isinstance(v, Tensor) else np.asarray(v) for k, v in state.items()
    }
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:
        np.savez(handle, allow_pickle=False, **arrays)
    partial.replace(path)


def load(path: str | Path) -> OrderedDict[str, Tensor]:
    with np.load(Path(path), allow_pickle=False) as archive:
        return OrderedDict((k, Tensor(archive[k])) for k in archive.files)
