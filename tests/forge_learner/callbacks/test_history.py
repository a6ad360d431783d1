"""History: one value per epoch per key, aligned even when an epoch misses a key."""

from __future__ import annotations

import math

from forge_core import nn
from forge_learner import CancelEpoch, History, Learner
from tests.forge_learner.toys import Raise, make_parts, regression_loader


def test_fit_returns_the_history_of_every_epoch() -> None:
    model, optimizer = make_parts()
    learner = Learner(model, nn.MSELoss(), optimizer, metrics=["mae"])

    history = learner.fit(regression_loader(), epochs=3, val=regression_loader(n=8))

    assert history is learner.history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(v) == 3 for v in history.history.values())


def test_values_an_epoch_did_not_log_are_nan() -> None:
    model, optimizer = make_parts()
    cancel_second = Raise("on_epoch_begin", CancelEpoch(), at=1)
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[cancel_second])

    history = learner.fit(regression_loader(), epochs=3, val=regression_loader(n=8))

    val_loss = history.history["val_loss"]
    assert [math.isnan(float(v)) for v in val_loss] == [False, True, False]
    assert math.isnan(float(history.history["loss"][1]))


def test_a_new_fit_starts_a_new_history_and_state_round_trips() -> None:
    history = History()
    history.on_epoch_end(0, {"loss": 1.0})
    history.on_epoch_end(1, {"loss": 0.5, "lr": 0.1})
    copy = History()
    copy.load_state_dict(history.state_dict())

    assert copy.epoch == [0, 1]
    assert copy.history["loss"] == [1.0, 0.5]
    assert math.isnan(float(copy.history["lr"][0]))

    copy.on_train_begin({})
    assert copy.epoch == [] and copy.history == {}
