"""EarlyStopping: stops after `patience` epochs without improvement, through learner.stop()."""

from __future__ import annotations

import pytest

from forge_core import nn
from forge_learner import EarlyStopping, Learner
from tests.forge_learner.toys import Recorder, SetLog, make_parts, regression_loader


def fit_with_scores(scores: list[float], stopper: EarlyStopping) -> tuple[Learner, Recorder]:
    model, optimizer = make_parts()
    recorder = Recorder(order=100)
    callbacks = [SetLog("score", scores), stopper, recorder]
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=callbacks)
    learner.fit(regression_loader(), epochs=len(scores))
    return learner, recorder


@pytest.mark.parametrize(("patience", "epochs_run"), [(0, 3), (1, 3), (2, 4)])
def test_stops_after_patience_epochs_without_improvement(patience: int, epochs_run: int) -> None:
    stopper = EarlyStopping("score", patience=patience)

    learner, recorder = fit_with_scores([3.0, 2.0, 2.5, 2.2, 1.0, 0.5], stopper)

    assert learner.history.epoch == list(range(epochs_run))
    assert stopper.stopped_epoch == epochs_run - 1
    assert stopper.best == 2.0
    assert recorder.names()[-3:] == ["on_epoch_end", "on_train_cancel", "on_train_end"]
    reason = recorder.events[-2][1]["reason"]
    assert reason.startswith("early stopping: score has not improved on 2")


def test_mode_max_and_min_delta() -> None:
    stopper = EarlyStopping("score", patience=0, mode="max", min_delta=0.1)

    learner, _ = fit_with_scores([0.5, 0.65, 0.7, 0.9], stopper)

    assert learner.history.epoch == [0, 1, 2]


def test_accuracy_is_maximised_by_default() -> None:
    assert EarlyStopping("val_accuracy").monitor.mode == "max"
    assert EarlyStopping().monitor.mode == "min"


def test_no_stop_when_it_keeps_improving_and_its_state_round_trips() -> None:
    stopper = EarlyStopping("score", patience=1)
    _, recorder = fit_with_scores([3.0, 2.0, 1.0], stopper)

    assert "on_train_cancel" not in recorder.names()
    copy = EarlyStopping("score")
    copy.load_state_dict(stopper.state_dict())
    assert (copy.best, copy.wait, copy.stopped_epoch) == (1.0, 0, None)


def test_watching_validation_without_validation_data_is_refused() -> None:
    model, optimizer = make_parts()
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[EarlyStopping()])

    with pytest.raises(ValueError, match="'val_loss', but fit\\(\\) got no validation data"):
        learner.fit(regression_loader(), epochs=1)


def test_a_value_missing_from_the_logs_warns_once_and_is_skipped() -> None:
    model, optimizer = make_parts()
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[EarlyStopping("los")])

    with pytest.warns(UserWarning, match="'los', which is not in the logs") as warned:
        learner.fit(regression_loader(), epochs=3)

    assert len(warned) == 1
    assert learner.history.epoch == [0, 1, 2]
