"""A trained image classifier's predictions from its run folder alone: arrays or image files."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forge_learner.prediction import PredictionInputError, PredictionRequest, PredictionUnavailable
from tests.forge_learner.families.test_image_classification import CLASSES, Stripes


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stripes")
    Stripes().run({"epochs": 8, "learning_rate": 0.05, "batch_size": 16}, run_dir=directory)
    return directory


def lit(row: int) -> np.ndarray:
    """A dark 6x6 image with one light row, as the training images are."""
    image = np.full((6, 6), 0.2)
    image[row] = 1.0
    return image


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.round(pixels * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def classify(run_dir: Path, **request: object) -> dict:
    return Stripes().predict(run_dir, PredictionRequest(**request))  # type: ignore[arg-type]


def test_each_image_gets_probabilities_that_sum_to_one_and_the_right_class(run_dir: Path):
    answer = classify(run_dir, inputs=[lit(1).tolist(), lit(3).tolist(), lit(5).tolist()])

    assert answer["classes"] == list(CLASSES)
    assert answer["image_shape"] == [1, 6, 6]
    assert [p["label"] for p in answer["predictions"]] == list(CLASSES)
    for prediction in answer["predictions"]:
        assert math.fsum(prediction["probabilities"]) == pytest.approx(1.0)
        assert prediction["probability"] == max(prediction["probabilities"])
    assert json.loads(json.dumps(answer)) == answer


def test_a_png_is_read_as_the_same_pixels_and_ink_on_paper_is_inverted(run_dir: Path):
    arrays = classify(run_dir, inputs=[lit(3).tolist()])["predictions"][0]
    dark = classify(run_dir, images=[png(lit(3))])["predictions"][0]
    # Twice the size, dark ink on a light ground: resized by area and inverted back.
    paper = 1.0 - np.kron(lit(3), np.ones((2, 2)))
    light = classify(run_dir, images=[png(paper)])["predictions"][0]

    assert dark["inverted"] is False and light["inverted"] is True
    assert dark["probabilities"] == pytest.approx(arrays["probabilities"], abs=1e-2)
    assert light["label"] == arrays["label"] == CLASSES[1]


def test_grey_levels_up_to_255_read_as_pixel_values(run_dir: Path):
    levels = classify(run_dir, inputs=[(lit(5) * 255).tolist()])["predictions"][0]
    unit = classify(run_dir, inputs=[lit(5).tolist()])["predictions"][0]
    assert levels["probabilities"] == pytest.approx(unit["probabilities"], rel=1e-5)


@pytest.mark.parametrize(
    ("request_fields", "field", "words"),
    [
        ({}, "inputs", "6x6"),
        ({"inputs": []}, "inputs", "list of images"),
        ({"inputs": [np.zeros((6, 5)).tolist()]}, "inputs[0]", "shape 6x5"),
        ({"inputs": [[[1, 2], [3]]]}, "inputs[0]", "rows of equal length"),
        ({"inputs": [np.full((6, 6), -1.0).tolist()]}, "inputs[0]", "0 to 1"),
        ({"inputs": [np.full((6, 6), np.nan).tolist()]}, "inputs[0]", "finite"),
        ({"images": [b"not an image"]}, "images[0]", "PNG or JPEG"),
        ({"inputs": [lit(1).tolist()], "images": [b"x"]}, "inputs", "not both"),
    ],
)
def test_images_it_cannot_read_are_named(
    run_dir: Path, request_fields: dict, field: str, words: str
):
    with pytest.raises(PredictionInputError) as raised:
        classify(run_dir, **request_fields)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_a_gif_is_refused_by_its_format(run_dir: Path):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((6, 6), dtype=np.uint8), mode="L").save(buffer, format="GIF")
    with pytest.raises(PredictionInputError, match="GIF"):
        classify(run_dir, images=[buffer.getvalue()])


def test_a_run_that_did_not_record_its_image_shape_says_to_train_again(
    run_dir: Path, tmp_path: Path
):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    del metrics["details"]["image_shape"]
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    for name in ("model.npz", "normalizer.json"):
        (tmp_path / name).write_bytes((run_dir / name).read_bytes())

    with pytest.raises(PredictionUnavailable, match="train the experiment again"):
        classify(tmp_path, inputs=[lit(1).tolist()])
