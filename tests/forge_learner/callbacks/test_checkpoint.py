"""ModelCheckpoint: the last epoch always, the best epoch on improvement, full state in both."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forge_core import nn
from forge_learner import Learner, ModelCheckpoint, load_checkpoint
from tests.forge_learner.toys import SetLog, make_parts, regression_loader


def test_writes_last_every_epoch_and_best_on_improvement(tmp_path: Path) -> None:
    saver = ModelCheckpoint(tmp_path / "run", monitor="score")
    model, optimizer = make_parts()
    callbacks = [SetLog("score", [3.0, 1.0, 2.0]), saver]
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=callbacks)

    learner.fit(regression_loader(), epochs=3)

    last, best = load_checkpoint(saver.last_path), load_checkpoint(saver.best_path)
    assert (last.epoch, best.epoch) == (2, 1)
    assert (saver.best, saver.best_epoch) == (1.0, 1)
    assert best.callbacks["ModelCheckpoint"] == {"monitor": "score", "best": 1.0, "best_epoch": 1}
    assert best.logs["score"] == 1.0
    assert last.callbacks["History"]["epoch"] == [0, 1, 2]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(last.model[key], value.numpy())
    assert last.optimizer["state"][0]["step"] == 9
    assert set(last.loaders) == {"train"}


def test_only_last_without_validation(tmp_path: Path) -> None:
    saver = ModelCheckpoint(tmp_path, save_best=False)
    model, optimizer = make_parts()
    Learner(model, nn.MSELoss(), optimizer, callbacks=[saver]).fit(regression_loader(), epochs=1)

    assert saver.last_path.exists() and not saver.best_path.exists()


def test_best_on_validation_needs_validation_data(tmp_path: Path) -> None:
    model, optimizer = make_parts()
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[ModelCheckpoint(tmp_path)])

    with pytest.raises(ValueError, match="save_best=False"):
        learner.fit(regression_loader(), epochs=1)


def test_saving_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="saves nothing"):
        ModelCheckpoint(tmp_path, save_best=False, save_last=False)
