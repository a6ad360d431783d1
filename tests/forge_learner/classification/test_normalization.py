"""The normaliser: per-channel statistics of the training images, exact inverse, saved state."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forge_learner.classification import Normalizer


def test_each_channel_is_centred_and_scaled_by_its_own_statistics() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal([[[2.0]], [[-5.0]], [[40.0]]], [[[1.0]], [[3.0]], [[10.0]]], (64, 3, 4, 5))
    normalizer = Normalizer().fit(images)

    assert normalizer.mean is not None and normalizer.std is not None
    np.testing.assert_allclose(normalizer.mean, images.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(normalizer.std, images.std(axis=(0, 2, 3)))
    normalized = normalizer.transform(images)
    np.testing.assert_allclose(normalized.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(normalized.std(axis=(0, 2, 3)), 1)


def test_hand_computed_two_channel_case() -> None:
    images = np.array([[[0.0, 2.0], [10.0, 10.0]], [[4.0, 6.0], [10.0, 10.0]]])  # (2, 2, 2)
    normalizer = Normalizer().fit(images)

    assert normalizer.mean is not None and normalizer.std is not None
    np.testing.assert_array_equal(normalizer.mean, [3, 10])
    np.testing.assert_allclose(normalizer.std, [np.sqrt(5), 1])  # the constant channel: 1
    np.testing.assert_allclose(
        normalizer.transform(np.array([[[8.0], [12.0]]])), [[[np.sqrt(5)], [2]]]
    )


def test_the_statistics_come_from_the_training_images_only() -> None:
    normalizer = Normalizer().fit(np.tile([0.0, 2.0], (3, 1, 2, 1)))  # mean 1, std 1
    test_images = np.full((2, 1, 2, 2), 100.0)

    np.testing.assert_array_equal(normalizer.transform(test_images), np.full((2, 1, 2, 2), 99.0))


def test_pixels_become_float32_and_float32_stays_float32() -> None:
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    normalizer = Normalizer().fit(pixels)
    assert normalizer.transform(pixels).dtype == np.float32
    assert normalizer.inverse_transform(np.zeros((1, 3, 2, 2), np.float32)).dtype == np.float32


@given(
    images=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(-1e4, 1e4),
    )
)
def test_inverse_undoes_transform_and_the_state_rebuilds_it(images: np.ndarray) -> None:
    normalizer = Normalizer().fit(images)
    restored = normalizer.inverse_transform(normalizer.transform(images))
    rebuilt = Normalizer.from_state(json.loads(json.dumps(normalizer.state_dict())))

    np.testing.assert_allclose(restored, images, atol=1e-8 * (1 + np.abs(images).max()))
    np.testing.assert_array_equal(rebuilt.transform(images), normalizer.transform(images))


def test_mistakes_are_refused_with_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="not fitted: call fit"):
        Normalizer().transform(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"fitted on 3 channels .* shape \(2, 1, 4, 4\)"):
        Normalizer().fit(np.zeros((2, 3, 4, 4))).transform(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"\(N, C, \.\.\.\) with the channels on axis 1"):
        Normalizer().fit(np.zeros(5))
    with pytest.raises(ValueError, match="NaN or infinity"):
        Normalizer().fit(np.full((1, 1, 2), np.nan))
    with pytest.raises(ValueError, match="at least one image"):
        Normalizer().fit(np.zeros((0, 3, 2, 2)))
    with pytest.raises(ValueError, match="state is of a 'StandardScaler'"):
        Normalizer.from_state({"type": "StandardScaler"})
