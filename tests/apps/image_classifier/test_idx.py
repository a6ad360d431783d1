"""The IDX reader: every type and rank, gzip, and a clear error for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from apps.image_classifier.idx import read_idx
from tests.apps.image_classifier.idx_files import idx_bytes, write_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2), (2, 1, 3, 3)])
def test_reads_every_type_and_rank(tmp_path: Path, dtype: str, shape: tuple[int, ...]) -> None:
    values = np.arange(np.prod(shape)).reshape(shape) - 2
    if dtype == "u1":
        values = values + 2
    expected = values.astype(dtype)

    array = read_idx(write_idx(tmp_path / "values-idx", expected))

    assert array.dtype == np.dtype(dtype) and array.dtype.isnative
    np.testing.assert_array_equal(array, expected)


def test_reads_the_bytes_mnist_starts_with(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(bytes.fromhex("00000801 00000003") + bytes([7, 2, 1]))

    assert read_idx(path).tolist() == [7, 2, 1]


def test_reads_gzip_by_its_suffix(tmp_path: Path) -> None:
    expected = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)

    np.testing.assert_array_equal(
        read_idx(write_idx(tmp_path / "x-idx3-ubyte.gz", expected)), expected
    )


def test_reads_an_empty_array(tmp_path: Path) -> None:
    assert read_idx(write_idx(tmp_path / "none", np.zeros((0, 28, 28), np.uint8))).shape == (
        0,
        28,
        28,
    )


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is not an IDX file: it starts with nothing"),
        (b"\x89PNG\r\n", "is not an IDX file: it starts with 89504e47"),
        (b"\0\0\x08", "is not an IDX file"),
        (b"\0\0\x07\x01" + bytes(4), "IDX type code 0x07; known codes are 0x08, 0x09"),
        (GOOD[:10], r"ends inside its IDX header \(10 bytes\); it is truncated"),
        (
            GOOD[:-1],
            r"header says 2x3x4 uint8 values \(24 bytes\) but 23 bytes follow; it is trunc",
        ),
        (GOOD + b"\0", "but 25 bytes follow; it has extra data"),
    ],
    ids=["empty", "png", "short", "bad-type", "short-header", "truncated", "extra"],
)
def test_bad_file_is_an_error_naming_it(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(content)

    with pytest.raises(ValueError, match=message) as error:
        read_idx(path)

    assert str(error.value).startswith(str(path))


def test_broken_gzip_is_an_error_naming_it(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-12])

    with pytest.raises(ValueError, match=r"is not a whole gzip file.*download it again") as error:
        read_idx(path)

    assert str(path) in str(error.value)
