"""Resuming from a checkpoint gives exactly the run that was never interrupted.

The runs shuffle their data, use dropout, Adam, an LR schedule and early-stopping patience, so
every piece of state a checkpoint holds (weights, optimizer moments, both random generators,
the callbacks' states) has to come back for the final weights to be bit-for-bit equal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn
from forge_core.optim import lr_scheduler
from forge_learner import (
    Callback,
    CancelFit,
    Checkpoint,
    DataLoader,
    EarlyStopping,
    History,
    Learner,
    LRScheduler,
    ModelCheckpoint,
    TensorDataset,
    load_checkpoint,
)
from tests.forge_learner.toys import Raise, Recorder, make_parts, regression_data

EPOCHS = 6


def make_learner(seed: int, directory: Path | None, *extra: Callback) -> Learner:
    """The same run as a fresh process would build it: model, optimizer, schedule, data."""
    model, optimizer = make_parts(seed, dropout=0.3, lr=0.02)
    callbacks: list[Callback] = [
        LRScheduler(lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)),
        EarlyStopping(patience=10),
        *extra,
    ]
    if directory is not None:
        callbacks.append(ModelCheckpoint(directory))
    return Learner(model, nn.MSELoss(), optimizer, metrics=["mae"], callbacks=callbacks)


def loaders() -> tuple[DataLoader, DataLoader]:
    """Shuffled training data seeded from the engine's generator, as a user would build it."""
    train = DataLoader(TensorDataset(*regression_data(30, seed=1)), batch_size=8, shuffle=True)
    return train, DataLoader(TensorDataset(*regression_data(12, seed=2)), batch_size=5)


def run(
    learner: Learner, epochs: int = EPOCHS, resume_from: Path | Checkpoint | None = None
) -> History:
    train, val = loaders()
    return learner.fit(train, epochs, val, resume_from=resume_from)


def weights(learner: Learner) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in learner.model.state_dict().items()}


@pytest.fixture(scope="module")
def uninterrupted() -> Learner:
    learner = make_learner(seed=0, directory=None)
    run(learner)
    return learner


def assert_same_run(resumed: Learner, uninterrupted: Learner) -> None:
    expected = weights(uninterrupted)
    actual = weights(resumed)
    assert actual.keys() == expected.keys()
    for key in expected:
        assert np.array_equal(actual[key], expected[key]), key
    assert resumed.history.epoch == list(range(EPOCHS))
    assert resumed.history.history == uninterrupted.history.history


def test_fit_for_fewer_epochs_then_resume_equals_the_uninterrupted_run(
    tmp_path: Path, uninterrupted: Learner
) -> None:
    run(make_learner(seed=0, directory=tmp_path), epochs=3)

    fc.manual_seed(12345)
    resumed = make_learner(seed=99, directory=tmp_path)
    run(resumed, resume_from=tmp_path / "last.npz")

    assert_same_run(resumed, uninterrupted)
    assert load_checkpoint(tmp_path / "last.npz").epoch == EPOCHS - 1


def test_resume_after_a_cancel_mid_epoch_equals_the_uninterrupted_run(
    tmp_path: Path, uninterrupted: Learner
) -> None:
    crash = Raise("on_batch_end", CancelFit("trainer lost"), at=2)

    class CrashInEpoch(Callback):
        def __call__(self, event: str, *args: object) -> None:
            if self.learner.epoch == 4:
                crash(event, *args)

    run(make_learner(0, tmp_path, CrashInEpoch()))
    assert load_checkpoint(tmp_path / "last.npz").epoch == 3

    recorder = Recorder()
    resumed = make_learner(7, tmp_path, recorder)
    run(resumed, resume_from=tmp_path / "last.npz")

    assert_same_run(resumed, uninterrupted)
    assert recorder.events[0] == (
        "on_train_begin",
        {"epochs": EPOCHS, "steps": 4, "initial_epoch": 4},
    )
    assert [e[1] for e in recorder.events if e[0] == "on_epoch_end"] == [4, 5]


def test_the_resumed_callbacks_continue_their_state(tmp_path: Path) -> None:
    run(make_learner(seed=0, directory=tmp_path), epochs=3)
    checkpoint = load_checkpoint(tmp_path / "last.npz")

    resumed = make_learner(seed=1, directory=tmp_path)
    run(resumed, epochs=3, resume_from=checkpoint)

    saver = next(c for c in resumed.callbacks if isinstance(c, ModelCheckpoint))
    assert saver.best == checkpoint.callbacks["ModelCheckpoint"]["best"]
    schedule = next(c for c in resumed.callbacks if isinstance(c, LRScheduler))
    assert schedule.scheduler.state_dict()["last_epoch"] == 3
    assert resumed.optimizer.param_groups[0]["lr"] == 0.02 * 0.5
    assert resumed.history.epoch == [0, 1, 2]


def test_callbacks_of_one_class_keep_their_own_state(tmp_path: Path) -> None:
    model, optimizer = make_parts()
    stoppers = [EarlyStopping("loss", patience=5), EarlyStopping("val_loss", patience=5)]
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=stoppers)
    run(learner, epochs=2)
    checkpoint = learner.checkpoint()

    model, optimizer = make_parts()
    copies = [EarlyStopping("loss"), EarlyStopping("val_loss")]
    resumed = Learner(model, nn.MSELoss(), optimizer, callbacks=copies)
    run(resumed, epochs=2, resume_from=checkpoint)

    assert set(checkpoint.callbacks) == {"EarlyStopping", "EarlyStopping#1", "History"}
    assert [c.best for c in copies] == [s.best for s in stoppers]
    assert copies[0].best != copies[1].best
