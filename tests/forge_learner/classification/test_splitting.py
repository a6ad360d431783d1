"""The stratified split: class proportions kept, every class in every part, repeatable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_learner.classification import stratified_split


def test_each_class_is_split_in_the_same_proportions() -> None:
    labels = np.repeat([0, 1, 2], [50, 30, 20])
    split = stratified_split(labels, test_fraction=0.2, val_fraction=0.1, seed=3)

    for part, share in ((split.test, 0.2), (split.val, 0.1), (split.train, 0.7)):
        np.testing.assert_array_equal(np.bincount(labels[part]), np.array([50, 30, 20]) * share)
    assert split.train.dtype == np.int64
    assert np.all(np.diff(split.test) > 0)


def test_small_classes_fill_train_then_test_then_validation() -> None:
    labels = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    split = stratified_split(labels, test_fraction=0.2, val_fraction=0.1)

    assert np.bincount(labels[split.train], minlength=4).tolist() == [1, 1, 1, 7]
    assert np.bincount(labels[split.test], minlength=4).tolist() == [0, 1, 1, 2]
    assert np.bincount(labels[split.val], minlength=4).tolist() == [0, 0, 1, 1]


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    labels = np.random.default_rng(0).integers(0, 4, size=200)
    first = stratified_split(labels, seed=7)
    again = stratified_split(labels, seed=7)
    other = stratified_split(labels, seed=8)

    np.testing.assert_array_equal(first.test, again.test)
    np.testing.assert_array_equal(first.train, again.train)
    assert not np.array_equal(first.test, other.test)


@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    test_fraction=st.sampled_from([0.0, 0.1, 0.2, 0.25]),
    val_fraction=st.sampled_from([0.0, 0.1, 0.15]),
    seed=st.integers(0, 2**16),
)
def test_parts_cover_the_samples_once_and_keep_every_class_they_can(
    counts: list[int], test_fraction: float, val_fraction: float, seed: int
) -> None:
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    split = stratified_split(
        labels, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )

    everything = np.concatenate([split.train, split.val, split.test])
    np.testing.assert_array_equal(np.sort(everything), np.arange(len(labels)))
    for label, count in enumerate(counts):
        in_part = [
            np.count_nonzero(labels[p] == label) for p in (split.train, split.test, split.val)
        ]
        assert in_part[0] >= 1
        assert (in_part[1] >= 1) == (test_fraction > 0 and count >= 2)
        assert (in_part[2] >= 1) == (val_fraction > 0 and count >= 2 + (test_fraction > 0))
        if count >= 2 / min(f for f in (test_fraction, val_fraction, 1.0) if f > 0):
            # large enough that no part is bumped to one: the rounded share, within half
            assert abs(in_part[1] - test_fraction * count) <= 0.5
            assert abs(in_part[2] - val_fraction * count) <= 0.5


@pytest.mark.parametrize(
    ("labels", "fractions", "message"),
    [
        (np.array([0.0, 1.0]), {}, "integer class labels"),
        (np.zeros((2, 2), dtype=int), {}, r"shape \(N,\)"),
        (np.zeros(4, dtype=int), {"test_fraction": 0.6, "val_fraction": 0.4}, "sum below 1"),
        (np.zeros(4, dtype=int), {"test_fraction": -0.2}, "at least 0"),
    ],
)
def test_mistakes_are_refused_with_what_to_do(
    labels: np.ndarray, fractions: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        stratified_split(labels, **fractions)
