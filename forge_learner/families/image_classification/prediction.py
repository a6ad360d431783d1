"""Class probabilities from a trained image classifier, for pixel arrays or PNG/JPEG files.

``ImageClassificationPipeline.predict`` hands over here. The model comes from the run's
``model.npz``, the channel statistics from ``normalizer.json``, and the class names and image
shape from ``metrics.json``: nothing of the training data is loaded again.

New images are treated as the training images were: pixel values in [0, 1] at the training
resolution, then normalised with the training images' statistics.

- ``inputs`` are 2-D arrays (rows of pixel values, one channel) or 3-D ones (channels first),
  at exactly the training resolution; values above 1 are read as 8-bit grey levels (0 to 255).
- Image files are decoded, turned grey (or RGB for a colour model), resized to the training
  resolution with area averaging, and scaled to [0, 1]. The training digits are light strokes
  on a dark ground; a file whose border is mostly light (ink on paper) is inverted first, and
  the answer says so.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from forge_core import Tensor, nn, no_grad
from forge_learner.classification import Normalizer
from forge_learner.prediction import PredictionInputError, PredictionRequest

MAX_IMAGES = 256
"""Images one request may classify: enough for a page of digits, bounded for the trainer."""


@dataclass(frozen=True)
class SavedClassifier:
    """What a classification needs: the trained model, its normaliser, classes and image shape."""

    model: nn.Module
    normalizer: Normalizer
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]


def classify(saved: SavedClassifier, request: PredictionRequest) -> dict[str, Any]:
    """The JSON answer: per image, the probability of every class and the top label."""
    if request.inputs is not None and request.images:
        raise PredictionInputError("inputs", "send pixel arrays or image files, not both")
    if request.images:
        images, inverted = _decoded(request.images, saved.image_shape)
    elif request.inputs is not None:
        images, inverted = _arrays(request.inputs, saved.image_shape), []
    else:
        raise PredictionInputError(
            "inputs",
            "an image classifier needs images: give inputs as a list of "
            f"{_shape_words(saved.image_shape)} pixel arrays, or image files",
        )
    scaled = saved.normalizer.transform(images).astype(np.float32)
    with no_grad():
        logits = saved.model(Tensor(scaled)).numpy().astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    predictions = []
    for i, row in enumerate(probabilities):
        top = int(row.argmax())
        prediction: dict[str, Any] = {
            "label": saved.class_names[top],
            "probability": float(row[top]),
            "probabilities": row.tolist(),
        }
        if inverted:
            prediction["inverted"] = inverted[i]
        predictions.append(prediction)
    channels, height, width = saved.image_shape
    return {
        "kind": "classification",
        "classes": list(saved.class_names),
        "image_shape": [channels, height, width],
        "predictions": predictions,
    }


def _arrays(inputs: Any, shape: tuple[int, int, int]) -> npt.NDArray[np.float32]:
    """The caller's pixel arrays as ``(N, C, H, W)`` in [0, 1]; a field error for a bad one."""
    if not isinstance(inputs, list) or not inputs:
        raise PredictionInputError(
            "inputs", f"give a list of images, each {_shape_words(shape)} pixel values"
        )
    _check_count(len(inputs), "inputs")
    channels, height, width = shape
    images = np.empty((len(inputs), channels, height, width), dtype=np.float32)
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        try:
            array = np.asarray(item, dtype=np.float64)
        except (ValueError, TypeError):
            raise PredictionInputError(
                where, f"is not a {_shape_words(shape)} array of numbers: rows of equal length"
            ) from None
        sent = array.shape
        if array.ndim == 2 and channels == 1:
            array = array[None]
        if array.shape != shape:
            raise PredictionInputError(
                where,
                f"has shape {'x'.join(map(str, sent)) or 'scalar'}, the model reads "
                f"{_shape_words(shape)} images: resize it as the training images were",
            )
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
            raise PredictionInputError(
                where, "holds a value that is not a finite number from 0 to 1 (or 0 to 255)"
            )
        images[i] = array / 255.0 if array.max() > 1.0 else array
    return images


def _decoded(
    files: Sequence[bytes], shape: tuple[int, int, int]
) -> tuple[npt.NDArray[np.float32], list[bool]]:
    """PNG or JPEG files as the training images were: grey or RGB, resized, light on dark."""
    from PIL import Image, UnidentifiedImageError  # lazily: only image predictions need it

    _check_count(len(files), "images")
    channels, height, width = shape
    images = np.empty((len(files), channels, height, width), dtype=np.float32)
    inverted = []
    for i, data in enumerate(files):
        try:
            with Image.open(io.BytesIO(data)) as opened:
                if opened.format not in ("PNG", "JPEG"):
                    raise PredictionInputError(
                        f"images[{i}]", f"is a {opened.format} file; send a PNG or a JPEG"
                    )
                picture = _flattened(opened).convert("L" if channels == 1 else "RGB")
                picture = picture.resize((width, height), Image.Resampling.BOX)
        except (UnidentifiedImageError, OSError):
            raise PredictionInputError(
                f"images[{i}]", "is not a PNG or JPEG image that can be read"
            ) from None
        pixels = np.asarray(picture, dtype=np.float32) / 255.0
        pixels = pixels[None] if pixels.ndim == 2 else np.transpose(pixels, (2, 0, 1))
        light_ground = _border_mean(pixels) > 0.5
        images[i] = 1.0 - pixels if light_ground else pixels
        inverted.append(bool(light_ground))
    return images, inverted


def _flattened(picture: Any) -> Any:
    """A picture with transparency laid on white, as a drawing on paper would be."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        ground = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(ground, rgba)
    return picture


def _border_mean(pixels: npt.NDArray[np.float32]) -> float:
    edges = (pixels[:, 0, :], pixels[:, -1, :], pixels[:, :, 0], pixels[:, :, -1])
    return float(np.concatenate([edge.ravel() for edge in edges]).mean())


def _check_count(count: int, field: str) -> None:
    if count > MAX_IMAGES:
        raise PredictionInputError(
            field, f"holds {count} images; send at most {MAX_IMAGES} per request"
        )


def _shape_words(shape: tuple[int, int, int]) -> str:
    channels, height, width = shape
    size = f"{height}x{width}"
    return size if channels == 1 else f"{channels}x{size} (channels first)"
