"""LRScheduler: steps the engine's schedulers per epoch or batch and logs the rate used."""

from __future__ import annotations

import pytest

from forge_core import nn
from forge_core.optim import lr_scheduler
from forge_learner import Learner, LRScheduler
from tests.forge_learner.toys import SetLog, make_parts, regression_loader


def test_steps_each_epoch_and_logs_the_rate_each_epoch_used() -> None:
    model, optimizer = make_parts(lr=0.1)
    schedule = LRScheduler(lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5))
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[schedule])

    history = learner.fit(regression_loader(), epochs=5)

    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_steps_each_batch() -> None:
    model, optimizer = make_parts(lr=1.0)
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    learner = Learner(
        model, nn.MSELoss(), optimizer, callbacks=[LRScheduler(scheduler, interval="batch")]
    )

    history = learner.fit(regression_loader(n=24, batch_size=8), epochs=2)

    assert history.history["learning_rate"] == pytest.approx([0.5**3, 0.5**6])


def test_a_plateau_schedule_gets_the_watched_value() -> None:
    model, optimizer = make_parts(lr=1.0)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    callbacks = [SetLog("score", [1.0, 2.0, 3.0, 0.5]), LRScheduler(plateau, monitor="score")]
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=callbacks)

    history = learner.fit(regression_loader(), epochs=4)

    assert history.history["learning_rate"] == pytest.approx([1.0, 1.0, 0.5, 0.25])
    assert plateau.best == 0.5


def test_its_state_is_the_schedulers() -> None:
    _, optimizer = make_parts(lr=0.1)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2)
    scheduler.step()
    callback = LRScheduler(scheduler)
    other = lr_scheduler.StepLR(make_parts(lr=0.1)[1], step_size=2)

    LRScheduler(other).load_state_dict(callback.state_dict())

    assert other.last_epoch == scheduler.last_epoch == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"interval": "step"}, "'epoch' or 'batch'"), ({"interval": "batch", "monitor": "x"}, "once")],
)
def test_bad_arguments_are_refused(kwargs: dict[str, str], message: str) -> None:
    _, optimizer = make_parts()
    with pytest.raises(ValueError, match=message):
        LRScheduler(lr_scheduler.StepLR(optimizer, step_size=1), **kwargs)
