"""Image sources: scikit-learn's digits, and MNIST from real-format IDX files the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from apps.image_classifier.sources import MNIST_FILES, MnistSplit, load_digits, load_mnist
from tests.apps.image_classifier.idx_files import mnist_like, write_idx

DIGITS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")


def write_mnist(
    directory: Path, split: MnistSplit = "train", count: int = 5, suffix: str = ""
) -> None:
    images, labels = mnist_like(count, seed=len(split))
    image_name, label_name = MNIST_FILES[split]
    write_idx(directory / f"{image_name}{suffix}", images)
    write_idx(directory / f"{label_name}{suffix}", labels)


def test_digits_are_single_channel_8x8_in_the_unit_range() -> None:
    digits = load_digits()

    assert digits.images.shape == (1797, 1, 8, 8) and digits.images.dtype == np.float32
    assert digits.images.min() == 0.0 and digits.images.max() == 1.0
    assert digits.labels.shape == (1797,) and digits.labels.dtype == np.int64
    assert sorted(set(digits.labels.tolist())) == list(range(10))
    assert digits.class_names == DIGITS
    assert digits.source == "sample"
    assert digits.labels[:10].tolist() == list(range(10))


def test_mnist_images_and_labels_are_read_and_scaled(tmp_path: Path) -> None:
    images, labels = mnist_like(5, seed=len("train"))
    write_mnist(tmp_path)

    train = load_mnist(tmp_path)

    assert train.images.shape == (5, 1, 28, 28) and train.images.dtype == np.float32
    np.testing.assert_allclose(train.images[:, 0], images / 255, rtol=1e-6)
    assert train.labels.dtype == np.int64 and train.labels.tolist() == labels.tolist()
    assert train.class_names == DIGITS
    assert (train.source, len(train)) == ("mnist", 5)
    assert "MNIST train split: 5 handwritten digits, 28x28" in train.description


def test_mnist_test_split_reads_the_t10k_files(tmp_path: Path) -> None:
    write_mnist(tmp_path, "train", count=5)
    write_mnist(tmp_path, "test", count=3)

    assert len(load_mnist(str(tmp_path), split="test")) == 3


def test_mnist_files_may_be_gzipped(tmp_path: Path) -> None:
    write_mnist(tmp_path, suffix=".gz")

    assert len(load_mnist(tmp_path)) == 5


def test_mnist_files_may_have_a_dot_before_idx(tmp_path: Path) -> None:
    images, labels = mnist_like(4)
    write_idx(tmp_path / "t10k-images.idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte", labels)

    assert load_mnist(tmp_path, "test").labels.tolist() == labels.tolist()


def test_missing_mnist_file_names_what_to_download(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()

    with pytest.raises(FileNotFoundError) as error:
        load_mnist(tmp_path)

    message = str(error.value)
    assert f"{tmp_path} has no train-labels-idx1-ubyte" in message
    assert "train-labels-idx1-ubyte.gz, train-labels.idx1-ubyte" in message
    assert "t10k-labels-idx1-ubyte) into it, or use the bundled digits" in message


def test_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))

    with pytest.raises(ValueError, match=r"holds 5 images but .*train-labels-idx1-ubyte 4 labels"):
        load_mnist(tmp_path)


@pytest.mark.parametrize(
    ("name", "array", "message"),
    [
        ("train-images-idx3-ubyte", np.zeros((5, 784), np.uint8), "MNIST images are unsigned"),
        ("train-images-idx3-ubyte", np.zeros((5, 28, 28), np.float32), "float32 values of"),
        ("train-labels-idx1-ubyte", np.zeros((5, 1), np.uint8), "MNIST labels are unsigned"),
        ("train-labels-idx1-ubyte", np.full(5, 10, np.uint8), "has label 10; MNIST labels are 0"),
    ],
    ids=["flat-images", "float-images", "2d-labels", "label-10"],
)
def test_files_that_are_not_mnist_are_errors_naming_them(
    tmp_path: Path, name: str, array: np.ndarray, message: str
) -> None:
    write_mnist(tmp_path)
    write_idx(tmp_path / name, array)

    with pytest.raises(ValueError, match=message) as error:
        load_mnist(tmp_path)

    assert str(tmp_path / name) in str(error.value)


def test_unknown_split_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose 'train' or 'test'"):
        load_mnist(tmp_path, "validation")  # type: ignore[arg-type]
