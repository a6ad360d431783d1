"""Reading IDX files, the format MNIST and its look-alikes (Fashion-MNIST, EMNIST) ship in.

An IDX file is two zero bytes, a type code, the number of dimensions, each dimension as a
big-endian 32-bit count, then the values, big-endian, in C order. Files the user points at may be
truncated downloads or something else entirely, so every check names the file and says what it
found.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from forge_learner.sources import DataRequestError

_TYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> npt.NDArray[Any]:
    """The array in the IDX file at `path` (gzip-compressed when its name ends in ``.gz``)."""
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DataRequestError(
            f"{path} is not a whole gzip file ({exc}); download it again"
        ) from exc
    if len(data) < 4 or data[:2] != b"\0\0":
        raise DataRequestError(
            f"{path} is not an IDX file: it starts with {data[:4].hex() or 'nothing'}, "
            "where IDX has 0000, a type code and a rank"
        )
    code, rank = data[2], data[3]
    if code not in _TYPES:
        raise DataRequestError(
            f"{path} has IDX type code {code:#04x}; known codes are "
            + ", ".join(f"{known:#04x}" for known in _TYPES)
        )
    header = 4 + 4 * rank
    if len(data) < header:
        raise DataRequestError(
            f"{path} ends inside its IDX header ({len(data)} bytes); it is truncated"
        )
    shape = struct.unpack(f">{rank}I", data[4:header])
    dtype = _TYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header != expected:
        raise DataRequestError(
            f"{path}: its header says {'x'.join(map(str, shape))} {dtype.name} values "
            f"({expected} bytes) but {len(data) - header} bytes follow; "
            + ("it is truncated" if len(data) - header < expected else "it has extra data")
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))
