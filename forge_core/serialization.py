"""Save and load state dicts (name -> tensor) as NumPy ``.npz`` files."""

import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forge_core.backend import asnumpy
from forge_core.files import atomic_write
from forge_core.tensor import Tensor


def save(state: Mapping[str, Any], path: str | Path) -> None:
    """Write ``state`` (tensors or arrays by name) to ``path``, atomically.

    The archive is what ``np.savez`` writes, so ``np.load`` reads it too; it is written to a
    temporary file beside ``path`` and renamed over it, so a crash or a concurrent reader never
    sees half a checkpoint.
    """
    path = Path(path)
    arrays = {
        k: asnumpy(v.data) if isinstance(v, Tensor) else np.asarray(v) for k, v in state.items()
    }
    # np.savez(**arrays) would fail on a name like "file"; write its format directly
    with (
        atomic_write(path) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
    ):
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(path: str | Path) -> OrderedDict[str, Tensor]:
    with np.load(Path(path), allow_pickle=False) as archive:
        return OrderedDict((k, Tensor(archive[k])) for k in archive.files)
