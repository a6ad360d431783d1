"""The training loop: it learns, fires its events in order, cancels and stops through one
mechanism, and infers in eval mode without a graph."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import forge_core as fc
from forge_core import nn
from forge_core.optim import SGD
from forge_learner import (
    Accuracy,
    Callback,
    CancelBatch,
    CancelEpoch,
    CancelFit,
    DataLoader,
    History,
    Learner,
    TensorDataset,
)
from tests.forge_learner.toys import (
    ModeSpy,
    Raise,
    Recorder,
    make_parts,
    regression_data,
    regression_loader,
)


def make_learner(*callbacks: Callback, dropout: float = 0.0, **kwargs: Any) -> Learner:
    model, optimizer = make_parts(dropout=dropout)
    return Learner(model, nn.MSELoss(), optimizer, callbacks=callbacks, **kwargs)


def test_training_lowers_the_loss_and_reaches_every_parameter() -> None:
    class GradientCheck(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
            for name, param in self.learner.model.named_parameters():
                assert param.grad is not None, f"{name} got no gradient"
                assert np.any(param.grad.data != 0), f"{name} got a zero gradient"

    learner = make_learner(GradientCheck())
    history = learner.fit(regression_loader(n=64, batch_size=16, shuffle=True), epochs=40)

    losses = [float(v) for v in history.history["loss"]]
    assert losses[-1] < 0.1 * losses[0]


def test_a_classifier_learns_with_cross_entropy_and_accuracy() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 2.5]])
    labels = rng.integers(0, 3, size=90)
    points = centers[labels] + 0.5 * rng.normal(size=(90, 2))
    fc.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    learner = Learner(model, nn.CrossEntropyLoss(), optimizer, metrics=[Accuracy()])
    data = DataLoader(TensorDataset(points, labels), batch_size=16, shuffle=True)

    history = learner.fit(data, epochs=15)

    assert float(history.history["accuracy"][0]) < 0.9
    results = learner.evaluate(DataLoader(TensorDataset(points, labels)))
    assert results["loss"] < 0.3
    assert results["accuracy"] > 0.9


def test_events_fire_in_order_with_zero_based_numbers() -> None:
    recorder = Recorder()
    learner = make_learner(recorder)

    learner.fit(regression_loader(n=20, batch_size=8), epochs=2, val=regression_loader(n=8))

    batches = ["on_batch_begin", "on_batch_end"] * 3
    epoch = ["on_epoch_begin", *batches, "on_epoch_end"]
    assert recorder.names() == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert [e[1] for e in recorder.events if e[0] == "on_epoch_end"] == [0, 1]
    assert [e[1] for e in recorder.events if e[0] == "on_batch_begin"] == [0, 1, 2] * 2
    assert [e[2]["size"] for e in recorder.events if e[0] == "on_batch_begin"] == [8, 8, 4] * 2


def test_logs_carry_keras_names_as_plain_numbers() -> None:
    recorder = Recorder()
    learner = make_learner(recorder, metrics=["mae", "rmse"])

    learner.fit(regression_loader(n=20, batch_size=8), epochs=1, val=regression_loader(n=8))

    events = {e[0]: e for e in recorder.events}
    assert events["on_train_begin"][1] == {"epochs": 1, "steps": 3, "initial_epoch": 0}
    epoch_logs = events["on_epoch_end"][2]
    assert set(epoch_logs) == {"loss", "mae", "rmse", "val_loss", "val_mae", "val_rmse"}
    assert all(type(v) is float for v in epoch_logs.values())
    assert set(events["on_batch_end"][2]) == {"loss", "mae", "rmse"}
    assert events["on_train_end"][1] == epoch_logs


def test_epoch_logs_are_exact_over_the_epoch_and_validation_matches_evaluate() -> None:
    learner = make_learner(dropout=0.3, metrics=["mae"])
    train, val = regression_loader(n=20, batch_size=8), regression_loader(n=11, batch_size=4)
    batch_losses: list[tuple[float, int]] = []

    class Losses(Callback):
        def on_batch_begin(self, batch: int, logs: dict[str, Any]) -> None:
            self.size = logs["size"]

        def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
            assert self.learner.batch_loss is not None
            batch_losses.append((self.learner.batch_loss.item(), self.size))

    learner.add_callback(Losses())
    history = learner.fit(train, epochs=1, val=val)

    weighted = sum(loss * n for loss, n in batch_losses) / sum(n for _, n in batch_losses)
    assert history.history["loss"][0] == pytest.approx(weighted, rel=1e-6)
    assert history.history["val_loss"][0] == learner.evaluate(val)["loss"]
    assert history.history["val_mae"][0] == learner.evaluate(val)["mae"]


def test_callbacks_run_by_order_then_as_given() -> None:
    calls: list[str] = []

    class Named(Callback):
        def __init__(self, name: str, order: int) -> None:
            self.label, self.order = name, order

        def on_train_begin(self, logs: dict[str, Any]) -> None:
            calls.append(self.label)

    learner = make_learner(Named("late", 5), Named("first", -1), Named("a", 0), Named("b", 0))
    learner.fit(regression_loader(), epochs=0)

    assert calls == ["first", "a", "b", "late"]
    assert [type(c) for c in learner.callbacks].count(History) == 1


def test_cancel_batch_skips_its_step_and_fires_cancel_then_end() -> None:
    recorder = Recorder(order=-1)
    learner = make_learner(Raise("on_batch_begin", CancelBatch("skip"), at=1), recorder)

    learner.fit(regression_loader(n=24, batch_size=8), epochs=1)

    names = recorder.names()
    cancel = names.index("on_batch_cancel")
    assert recorder.events[cancel] == ("on_batch_cancel", 1, {"reason": "skip"})
    assert names[cancel - 1 : cancel + 2] == ["on_batch_begin", "on_batch_cancel", "on_batch_end"]
    steps = {s["step"] for s in learner.optimizer.state.values()}
    assert steps == {2}


def test_cancel_epoch_skips_the_rest_of_the_epoch_and_its_validation() -> None:
    recorder = Recorder(order=-1)
    learner = make_learner(Raise("on_batch_end", CancelEpoch(), at=0), recorder)

    history = learner.fit(regression_loader(n=24, batch_size=8), epochs=2, val=regression_loader())

    epoch = ["on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_cancel", "on_epoch_end"]
    assert recorder.names() == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert history.epoch == [0, 1]
    assert set(history.history) == {"loss"}


def test_a_cancel_hides_its_event_from_the_callbacks_after_the_raiser() -> None:
    before, after = Recorder(order=-1), Recorder(order=1)
    learner = make_learner(before, Raise("on_epoch_end", CancelFit()), after)

    learner.fit(regression_loader(), epochs=3)

    assert before.names()[-3:] == ["on_epoch_end", "on_train_cancel", "on_train_end"]
    assert after.names()[-3:] == ["on_batch_end", "on_train_cancel", "on_train_end"]


def test_cancel_fit_ends_training_and_fit_returns() -> None:
    recorder = Recorder(order=1)
    learner = make_learner(Raise("on_epoch_begin", CancelFit("enough"), at=1), recorder)

    history = learner.fit(regression_loader(), epochs=5)

    assert recorder.names()[-3:] == ["on_epoch_end", "on_train_cancel", "on_train_end"]
    assert recorder.events[-2] == ("on_train_cancel", {"reason": "enough"})
    assert history.epoch == [0]
    assert recorder.events[-1][1] == history_logs(history, 0)


def history_logs(history: History, epoch: int) -> dict[str, Any]:
    return {k: v[epoch] for k, v in history.history.items()}


def test_stop_from_another_thread_takes_effect_at_the_next_batch() -> None:
    class StopFromThread(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
            if self.learner.epoch == 1 and batch == 0:
                thread = threading.Thread(target=self.learner.stop, args=("user cancelled",))
                thread.start()
                thread.join()

    recorder = Recorder(order=1)
    learner = make_learner(StopFromThread(), recorder)

    learner.fit(regression_loader(n=24, batch_size=8), epochs=3)

    assert recorder.events[-4:-1] == [
        ("on_batch_begin", 0, {"size": 8}),
        recorder.events[-3],
        ("on_train_cancel", {"reason": "user cancelled"}),
    ]
    assert recorder.names()[-3:] == ["on_batch_end", "on_train_cancel", "on_train_end"]
    assert recorder.names().count("on_batch_end") == 4


def test_stop_before_fit_stops_that_fit_only() -> None:
    learner = make_learner()
    learner.stop()

    assert learner.fit(regression_loader(), epochs=2).epoch == []
    assert learner.fit(regression_loader(), epochs=2).epoch == [0, 1]


def test_an_error_propagates_without_end_events() -> None:
    recorder = Recorder(order=1)
    learner = make_learner(Raise("on_batch_end", RuntimeError("boom"), at=1), recorder)

    with pytest.raises(RuntimeError, match="boom"):
        learner.fit(regression_loader(n=24, batch_size=8), epochs=2)

    assert recorder.names()[-1] == "on_batch_begin"
    assert "on_epoch_end" not in recorder.names()


def test_evaluate_and_predict_run_in_eval_mode_without_a_graph() -> None:
    learner = make_learner(dropout=0.5, metrics=["mae"])
    model = learner.model
    spy = next(m for m in model.modules() if isinstance(m, ModeSpy))
    x, y = regression_data(10)

    results = learner.evaluate(DataLoader(TensorDataset(x, y), batch_size=4))
    prediction = learner.predict(x, batch_size=3)

    assert set(spy.seen) == {(False, False)}
    assert model.training
    assert set(results) == {"loss", "mae"}
    assert prediction.shape == (10, 1) and isinstance(prediction, np.ndarray)
    np.testing.assert_allclose(prediction, learner.predict(x), rtol=1e-5)
    assert results["mae"] == pytest.approx(float(np.abs(prediction - y).mean()), rel=1e-5)

    model.eval()
    learner.predict(x)
    assert not model.training


def fit_on_inputs_only(drop_last: bool) -> None:
    loader = DataLoader(TensorDataset(np.zeros((3, 3))), batch_size=4, drop_last=drop_last)
    make_learner().fit(loader, epochs=1)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: make_learner(metrics=["mae", "mae"]), "unique"),
        (lambda: make_learner(metrics=["f1"]), "unknown metric 'f1'"),
        (lambda: fit_on_inputs_only(drop_last=True), "no batches"),
        (lambda: fit_on_inputs_only(drop_last=False), r"\(inputs..., target\)"),
    ],
)
def test_user_errors_say_what_to_do(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
