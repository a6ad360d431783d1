"""The stratified split: train, validation and test parts with the dataset's class proportions.

A random split of a small or imbalanced dataset can leave a rare class out of the test part, and
the accuracy then says nothing about it. Here each class is split on its own, in the same
proportions, so every part mirrors the whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class StratifiedSplit:
    """Which samples train, validate and test: sorted int64 indices into the labels."""

    train: Array
    val: Array
    test: Array


def _share(fraction: float, count: int) -> int:
    """Samples of ``count`` for ``fraction``, rounded half up, and at least one if it is not 0."""
    if fraction == 0:
        return 0
    return max(1, math.floor(fraction * count + 0.5))


def stratified_split(
    labels: ArrayLike, *, test_fraction: float = 0.2, val_fraction: float = 0.0, seed: int = 0
) -> StratifiedSplit:
    """Split the samples of each class at random into test, validation and training parts.

    A class of ``n`` samples gives ``round(test_fraction * n)`` to test and
    ``round(val_fraction * n)`` to validation (half up, at least one each when the fraction is
    not 0), and the rest to training. A class too small for all three keeps one sample for
    training first, then one for test, then one for validation: a class of one sample is only
    in train, of two in train and test. So each class is in each part when it has a sample for
    it, and the parts' sizes are the fractions of the whole up to a sample per class.

    ``labels`` is ``(N,)``, any integers; the same labels and ``seed`` give the same split.
    Shuffling the training samples each epoch is the ``DataLoader``'s job.
    """
    array = np.asarray(labels)
    if array.ndim != 1 or array.dtype.kind not in "biu":
        raise ValueError(
            "stratified_split: labels must be integer class labels of shape (N,), got dtype "
            f"{array.dtype} and shape {array.shape}"
        )
    if test_fraction < 0 or val_fraction < 0 or test_fraction + val_fraction >= 1:
        raise ValueError(
            f"stratified_split: test_fraction={test_fraction} and val_fraction={val_fraction} "
            "must be at least 0 and leave samples to train on (sum below 1)"
        )
    rng = np.random.default_rng(seed)
    parts: dict[str, list[Array]] = {"train": [], "val": [], "test": []}
    for label in np.unique(array):
        members = rng.permutation(np.flatnonzero(array == label))
        count = len(members)
        n_test = min(_share(test_fraction, count), count - 1)
        n_val = min(_share(val_fraction, count), count - 1 - n_test)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    train, val, test = (
        np.sort(np.concatenate([*parts[name], np.empty(0, np.int64)])).astype(np.int64)
        for name in ("train", "val", "test")
    )
    return StratifiedSplit(train=train, val=val, test=test)
