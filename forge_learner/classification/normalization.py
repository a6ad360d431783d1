"""Per-channel normalisation of images, fitted on the training images only.

A network trains best on inputs centred near 0 with unit spread; the statistics come from the
training part alone, since test images must be treated exactly as new images will be.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike

Array = np.ndarray


class Normalizer:
    """``(x - mean[c]) / std[c]`` for each channel ``c``, the channel axis being axis 1.

    Images are ``(N, C, H, W)`` as ``Conv2d`` takes them (``(N, C)`` or ``(N, C, L)`` work
    alike); the statistics are over every axis but the channel's. ``std`` is the population one,
    and a channel constant over the training images gets 1, so it maps to 0.
    The output keeps a floating input's dtype and turns integers of up to 16 bits (``uint8``
    pixels) into float32, wider ones into float64. ``state_dict()`` is plain JSON.
    """

    def __init__(self) -> None:
        self.mean: Array | None = None
        self.std: Array | None = None

    def fit(self, images: ArrayLike) -> Self:
        """Learn each channel's mean and standard deviation from the training images."""
        array = self._images(images).astype(np.float64)
        if array.shape[0] == 0 or array.size == 0:
            raise ValueError(f"Normalizer: fit needs at least one image, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError("Normalizer: cannot fit on NaN or infinity")
        axes = (0, *range(2, array.ndim))
        std = array.std(axis=axes)
        # A constant channel's std may round to a tiny non-zero value, and a tiny spread's
        # variance may underflow to 0: both would divide by (nearly) zero.
        constant = (array.min(axis=axes) == array.max(axis=axes)) | (std == 0)
        self.mean = array.mean(axis=axes)
        self.std = np.where(constant, 1.0, std)
        return self

    def transform(self, images: ArrayLike) -> Array:
        array = self._images(images)
        mean, std = self._fitted(array)
        return ((array - mean) / std).astype(np.result_type(array.dtype, np.float32))

    def inverse_transform(self, images: ArrayLike) -> Array:
        """The images that ``transform`` maps to ``images``, e.g. to show them."""
        array = self._images(images)
        mean, std = self._fitted(array)
        return (array * std + mean).astype(np.result_type(array.dtype, np.float32))

    def fit_transform(self, images: ArrayLike) -> Array:
        return self.fit(images).transform(images)

    def state_dict(self) -> dict[str, Any]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Normalizer is not fitted: call fit(training images) first")
        return {"type": "Normalizer", "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        if state.get("type") != "Normalizer":
            raise ValueError(f"Normalizer.from_state: the state is of a {state.get('type')!r}")
        normalizer = cls()
        normalizer.mean = np.asarray(state["mean"], dtype=np.float64)
        normalizer.std = np.asarray(state["std"], dtype=np.float64)
        return normalizer

    @staticmethod
    def _images(images: ArrayLike) -> Array:
        array = np.asarray(images)
        if array.ndim < 2 or array.dtype.kind not in "biuf":
            raise ValueError(
                "Normalizer: images must be numbers of shape (N, C, ...) with the channels on "
                f"axis 1, got dtype {array.dtype} and shape {array.shape}"
            )
        return array

    def _fitted(self, array: Array) -> tuple[Array, Array]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Normalizer is not fitted: call fit(training images) first")
        if array.shape[1] != len(self.mean):
            raise ValueError(
                f"Normalizer was fitted on {len(self.mean)} channels and cannot apply to images "
                f"of shape {array.shape} (channels on axis 1)"
            )
        shape = (1, -1) + (1,) * (array.ndim - 2)
        return self.mean.reshape(shape), self.std.reshape(shape)
