"""Labelled images to the network's datasets: the settings, the split and the normalisation.

A stratified split by ``config.seed`` keeps each class's share in every part, so a rare class
cannot vanish from the test set; the per-channel normaliser is fitted on the training images
only, so test images are treated exactly as new images will be.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

import numpy as np
from pydantic import Field

from forge_learner.classification import Normalizer, stratified_split
from forge_learner.config import PipelineConfig
from forge_learner.data import TensorDataset
from forge_learner.pipeline import PipelineData
from forge_learner.sources import LabelledImages

__all__ = [
    "ImageClassificationConfig",
    "ImageConfigT",
    "ImageData",
    "image_data",
    "prepare",
]

Array = np.ndarray


class ImageClassificationConfig(PipelineConfig):
    """The settings every image classifier shares: how the images are split."""

    field_groups: ClassVar[Mapping[str, str]] = {
        "source": "Data",
        "test_fraction": "Split",
        "val_fraction": "Split",
    }

    test_fraction: float = Field(
        default=0.2,
        gt=0.0,
        le=0.5,
        description=(
            "Share of each class held out to test the final model. Unused when the source "
            "has a test split of its own (MNIST's t10k files)."
        ),
    )
    val_fraction: float = Field(
        default=0.1,
        ge=0.0,
        le=0.4,
        description=(
            "Share of each class held out to validate after every epoch (val_loss, the best "
            "checkpoint); 0 validates nothing."
        ),
    )


ImageConfigT = TypeVar("ImageConfigT", bound=ImageClassificationConfig)


@dataclass(frozen=True, eq=False)
class ImageData:
    """What the family's hooks need beyond the datasets; ``image_data(data)`` returns it.

    ``test_images`` are the test images as loaded (in [0, 1], not normalised), to be shown;
    ``test_ids`` and ``train_labels`` index and label the source's images.
    """

    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    normalizer: Normalizer
    train_labels: Array
    test_images: Array
    test_labels: Array
    test_ids: Array

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def image_data(data: PipelineData) -> ImageData:
    """The ``ImageData`` that ``ImageClassificationPipeline.load_data`` put in ``data.extras``."""
    found = data.extras.get("images")
    if not isinstance(found, ImageData):
        raise TypeError("this PipelineData was not loaded by an ImageClassificationPipeline")
    return found


def prepare(
    config: ImageClassificationConfig, source: LabelledImages, own_test: LabelledImages | None
) -> PipelineData:
    """The split, the normaliser fitted on the training images, and the datasets."""
    if own_test is not None and own_test.class_names != source.class_names:
        raise ValueError(
            f"the test images name their classes {own_test.class_names}, the training "
            f"images {source.class_names}; both must use the same classes in the same order"
        )
    split = stratified_split(
        source.labels,
        test_fraction=0.0 if own_test is not None else config.test_fraction,
        val_fraction=config.val_fraction,
        seed=config.seed,
    )
    if own_test is None:
        test_ids = split.test
        test_images, test_labels = source.images[test_ids], source.labels[test_ids]
    else:
        test_ids = np.arange(len(own_test))
        test_images, test_labels = own_test.images, own_test.labels
    normalizer = Normalizer().fit(source.images[split.train])

    def dataset(images: Array, labels: Array) -> TensorDataset:
        return TensorDataset(normalizer.transform(images), labels)

    _, channels, height, width = source.images.shape
    info = ImageData(
        class_names=source.class_names,
        image_shape=(channels, height, width),
        normalizer=normalizer,
        train_labels=source.labels[split.train],
        test_images=test_images,
        test_labels=test_labels,
        test_ids=test_ids,
    )
    val = dataset(source.images[split.val], source.labels[split.val])
    return PipelineData(
        train=dataset(source.images[split.train], info.train_labels),
        val=val if len(val) else None,
        test=dataset(test_images, test_labels),
        summary=_summary(config, source, own_test, normalizer),
        extras={"images": info},
    )


def _summary(
    config: ImageClassificationConfig,
    images: LabelledImages,
    own_test: LabelledImages | None,
    normalizer: Normalizer,
) -> dict[str, str | int | float]:
    _, channels, height, width = images.images.shape
    counts = np.bincount(images.labels, minlength=len(images.class_names))
    classes = ", ".join(images.class_names)
    if own_test is not None:
        test = f"given by the source: {own_test.description}"
    else:
        test = f"{config.test_fraction:.0%} of each class, drawn with seed {config.seed}"
    assert normalizer.mean is not None and normalizer.std is not None
    return {
        "source": images.description,
        "image size": f"{channels}x{height}x{width} (channels x height x width)",
        "classes": f"{len(images.class_names)}: {classes}",
        "images per class": f"{counts.min()} to {counts.max()}",
        "test set": test,
        "validation set": (
            f"{config.val_fraction:.0%} of each class, drawn with seed {config.seed}"
            if config.val_fraction
            else "none"
        ),
        "normalisation": (
            "per channel, fitted on the training images: mean "
            + ", ".join(f"{m:.4g}" for m in normalizer.mean)
            + ", std "
            + ", ".join(f"{s:.4g}" for s in normalizer.std)
        ),
    }
