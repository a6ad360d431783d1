"""Labelled digit images for the image classifier: scikit-learn's digits, or MNIST's files.

``load_digits`` needs nothing but scikit-learn, which ships its 1,797 8x8 digits, so the app
trains offline by default. ``load_mnist`` reads the standard MNIST IDX files from a directory the
user downloaded them to; nothing is fetched, because MNIST's hosts come and go and a user who
wants it usually has it already.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from sklearn import datasets

from apps.image_classifier.idx import read_idx
from forge_learner.sources import DataRequestError, LabelledImages, MissingDataFile

MnistSplit = Literal["train", "test"]

DIGITS = tuple(str(digit) for digit in range(10))
MNIST_FILES: dict[MnistSplit, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_digits() -> LabelledImages:
    """scikit-learn's handwritten digits: 1,797 images of 1x8x8, grey levels scaled to [0, 1]."""
    digits = datasets.load_digits()
    # The grey levels are counts of set pixels in a 4x4 block of the 32x32 original: 0 to 16.
    images = (digits.images / 16.0).astype(np.float32)[:, np.newaxis]
    return LabelledImages(
        images=images,
        labels=digits.target.astype(np.int64),
        class_names=DIGITS,
        source="sample",
        description=(
            f"{len(images)} handwritten digits, one per row: an 8x8 image with 17 grey levels "
            "(each pixel counts the ink in a 4x4 block of a 32x32 scan) and the digit written. "
            "The test part of the UCI Optical Recognition of Handwritten Digits data set "
            "(Alpaydin and Kaynak, 1998; CC BY 4.0) as scikit-learn ships it."
        ),
    )


def load_mnist(directory: Path | str, split: MnistSplit = "train") -> LabelledImages:
    """MNIST's `split` from its IDX files in `directory`: 1x28x28 images scaled to [0, 1].

    The files keep their standard names (``train-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``
    and so on), optionally gzip-compressed (``.gz``) or with a dot before ``idx`` as some mirrors
    name them.
    """
    if split not in MNIST_FILES:
        raise DataRequestError(f"unknown MNIST split {split!r}; choose 'train' or 'test'")
    directory = Path(directory)
    image_path, label_path = (_find(directory, name) for name in MNIST_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataRequestError(
            f"{image_path} holds {images.dtype} values of shape {images.shape}; "
            "MNIST images are unsigned bytes of shape (count, rows, columns)"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataRequestError(
            f"{label_path} holds {labels.dtype} values of shape {labels.shape}; "
            "MNIST labels are unsigned bytes, one per image"
        )
    if len(images) != len(labels):
        raise DataRequestError(
            f"{image_path} holds {len(images)} images but {label_path} {len(labels)} labels"
        )
    if len(labels) and labels.max() >= len(DIGITS):
        raise DataRequestError(f"{label_path} has label {labels.max()}; MNIST labels are 0 to 9")
    return LabelledImages(
        images=(images / np.float32(255.0)).astype(np.float32)[:, np.newaxis],
        labels=labels.astype(np.int64),
        class_names=DIGITS,
        source="mnist",
        description=(
            f"MNIST {split} split: {len(images)} handwritten digits, "
            f"{images.shape[1]}x{images.shape[2]} grey pixels, read from {directory}."
        ),
    )


def _find(directory: Path, name: str) -> Path:
    candidates = [
        directory / f"{stem}{suffix}"
        for stem in (name, name.replace("-idx", ".idx"))
        for suffix in ("", ".gz")
    ]
    for path in candidates:
        if path.is_file():
            return path
    raise MissingDataFile(
        f"{directory} has no {name} (looked for {', '.join(p.name for p in candidates)}). "
        "Download MNIST's four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) into it, or use the bundled digits."
    )
