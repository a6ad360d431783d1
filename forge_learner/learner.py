"""``Learner``: the training loop, its events, and exact resumes from checkpoints.

The loop has three nested stages, each run by one helper (``_stage``, after fastai's
``_with_events``): fire ``on_<stage>_begin``, run the stage, fire ``on_<stage>_cancel`` if a
callback raised the stage's cancel exception, then fire ``on_<stage>_end``. Stopping has one
mechanism: a cancel exception. ``Learner.stop()`` (from a callback, or from another thread, as
a trainer does when a user cancels) sets a flag that the loop checks before every epoch and
batch and turns into ``CancelFit``, so a stop takes effect at the next batch at the latest.

An error that is not a cancel propagates out of ``fit`` without firing the end events of the
stages it interrupted: a half-finished epoch must not be checkpointed or recorded as done.

Epochs and batches are numbered from 0, as in Keras's callbacks. ``fit``'s ``epochs`` is the
total number of epochs of the run: a run resumed from the checkpoint of epoch k trains epochs
k+1 to ``epochs - 1``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from forge_core import Tensor, get_rng_state, no_grad, set_rng_state
from forge_core.nn import Module
from forge_core.optim import Optimizer
from forge_learner.callbacks.base import Callback
from forge_learner.callbacks.history import History
from forge_learner.checkpoint import Checkpoint, load_checkpoint
from forge_learner.data import DataLoader, TensorDataset
from forge_learner.events import Cancel, CancelBatch, CancelEpoch, CancelFit, Logs
from forge_learner.metrics import Metric, RunningMetrics, get_metric

LossFn = Callable[[Tensor, Tensor], Tensor]


class Learner:
    """Trains ``model`` on ``loss`` with ``optimizer``, reporting ``metrics`` to ``callbacks``.

    ``loss(output, target)`` returns the batch's mean loss as a scalar tensor (e.g.
    ``nn.MSELoss()``). Batches are tuples ``(*inputs, target)``: the model is called on the
    inputs. Metrics are ``Metric`` objects or names from ``forge_learner.metrics.METRICS``.
    A ``History`` is added unless one is given, as Keras does.

    While a fit runs, callbacks may read ``epoch``, ``epochs``, ``batch``, ``train_loader``,
    ``val_loader``, ``output`` and ``batch_loss`` (the current batch's output and loss).
    """

    def __init__(
        self,
        model: Module,
        loss: LossFn,
        optimizer: Optimizer,
        metrics: Iterable[Metric | str] = (),
        callbacks: Iterable[Callback] = (),
    ) -> None:
        self.model = model
        self.loss_fn = loss
        self.optimizer = optimizer
        self.metrics = [get_metric(m) for m in metrics]
        names = [m.name for m in self.metrics]
        if "loss" in names or len(set(names)) != len(names):
            raise ValueError(f"metric names must be unique and not 'loss', got {names}")
        self.callbacks: list[Callback] = []
        for callback in callbacks:
            self.add_callback(callback)
        if not any(isinstance(c, History) for c in self.callbacks):
            self.add_callback(History())

        self.epoch = 0
        self.epochs = 0
        self.batch = 0
        self.train_loader: DataLoader | None = None
        self.val_loader: DataLoader | None = None
        self.output: Tensor | None = None
        self.batch_loss: Tensor | None = None
        self.epoch_logs: Logs = {}
        self._val_logs: Logs = {}
        self._running = RunningMetrics(self.metrics)
        self._stop_requested = threading.Event()
        self._stop_reason = ""

    # ----- callbacks -----
    def add_callback(self, callback: Callback) -> None:
        """Attach ``callback``; it runs by its ``order`` among the others."""
        callback.learner = self
        self.callbacks.append(callback)
        self.callbacks.sort(key=lambda c: c.order)

    @property
    def history(self) -> History:
        return next(c for c in self.callbacks if isinstance(c, History))

    def _fire(self, event: str, *args: Any) -> None:
        for callback in self.callbacks:
            callback(event, *args)

    def _stage(
        self,
        cancel: type[Cancel],
        body: Callable[[], None],
        index: tuple[int, ...],
        begin_logs: Logs,
        end_logs: Callable[[], Logs],
    ) -> None:
        """Run ``body`` as the stage that ``cancel`` cancels, firing that stage's events.

        The begin event is inside the ``try``, so a callback may cancel a stage as it begins.
        """
        try:
            self._fire(f"on_{cancel.stage}_begin", *index, begin_logs)
            body()
        except cancel as cancelled:
            self._fire(f"on_{cancel.stage}_cancel", *index, {"reason": cancelled.reason})
        self._fire(f"on_{cancel.stage}_end", *index, end_logs())

    # ----- stopping -----
    def stop(self, reason: str = "stopped by request") -> None:
        """End the running fit at the next epoch or batch boundary; safe from any thread.

        A request made before ``fit`` starts stops that fit at once; it is cleared when the fit
        it stopped returns.
        """
        self._stop_reason = reason
        self._stop_requested.set()

    def _check_stop(self) -> None:
        if self._stop_requested.is_set():
            raise CancelFit(self._stop_reason)

    # ----- training -----
    def fit(
        self,
        train: DataLoader,
        epochs: int,
        val: DataLoader | None = None,
        *,
        resume_from: str | Path | Checkpoint | None = None,
    ) -> History:
        """Train for ``epochs`` epochs in all, validating on ``val`` after each; return history.

        With ``resume_from`` (a checkpoint or its file) the model, optimizer, random generators
        and callbacks take the checkpoint's state, and training goes on at the epoch after it.
        """
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        if len(train) == 0:
            raise ValueError(
                f"the training data has no batches ({len(train.dataset)} samples, batch_size "
                f"{train.batch_size}, drop_last={train.drop_last}): give more data or smaller "
                "batches"
            )
        checkpoint = (
            load_checkpoint(resume_from) if isinstance(resume_from, str | Path) else resume_from
        )
        initial_epoch = 0 if checkpoint is None else checkpoint.epoch + 1
        self.train_loader, self.val_loader, self.epochs = train, val, epochs
        self.epoch_logs = {}
        params: Logs = {"epochs": epochs, "steps": len(train), "initial_epoch": initial_epoch}
        try:
            self._stage(
                CancelFit,
                partial(self._run_epochs, checkpoint, initial_epoch),
                (),
                params,
                lambda: self.epoch_logs,
            )
        finally:
            self._stop_requested.clear()
        return self.history

    def _run_epochs(self, checkpoint: Checkpoint | None, initial_epoch: int) -> None:
        if checkpoint is not None:
            self._restore(checkpoint)
        for epoch in range(initial_epoch, self.epochs):
            self._check_stop()
            self.epoch = epoch
            self._running = RunningMetrics(self.metrics)
            self._val_logs = {}
            self._stage(CancelEpoch, self._run_epoch, (epoch,), {}, self._end_epoch_logs)

    def _run_epoch(self) -> None:
        assert self.train_loader is not None
        self.model.train()
        for batch, data in enumerate(self.train_loader):
            self._check_stop()
            self.batch = batch
            size = len(data[-1])
            self._stage(
                CancelBatch,
                partial(self._train_batch, data),
                (batch,),
                {"size": size},
                self._batch_end_logs,
            )
        if self.val_loader is not None:
            logs = self._evaluate(self.val_loader, between_batches=self._check_stop)
            self._val_logs = {f"val_{key}": value for key, value in logs.items()}

    def _batch_end_logs(self) -> Logs:
        return dict(self._running.results())

    def _end_epoch_logs(self) -> Logs:
        self.epoch_logs = {**self._running.results(), **self._val_logs}
        return self.epoch_logs

    def _train_batch(self, data: Sequence[Tensor]) -> None:
        inputs, target = _split(data)
        self.output = self.model(*inputs)
        self.batch_loss = self.loss_fn(self.output, target)
        self.optimizer.zero_grad()
        self.batch_loss.backward()
        self.optimizer.step()
        self._running.update(
            float(self.batch_loss.item()), self.output.detach().numpy(), target.numpy()
        )

    # ----- inference -----
    def evaluate(self, data: DataLoader) -> dict[str, float]:
        """``loss`` and the metrics over ``data``, in eval mode without recording a graph."""
        return self._evaluate(data, between_batches=lambda: None)

    def _evaluate(self, data: DataLoader, between_batches: Callable[[], None]) -> dict[str, float]:
        running = RunningMetrics(self.metrics)
        with _inference(self.model):
            for batch in data:
                between_batches()
                inputs, target = _split(batch)
                output = self.model(*inputs)
                loss = float(self.loss_fn(output, target).item())
                running.update(loss, output.numpy(), target.numpy())
        return running.results()

    def predict(self, x: Tensor | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The model's output for inputs ``x``, computed ``batch_size`` rows at a time."""
        loader = DataLoader(TensorDataset(x), batch_size=batch_size)
        if len(loader) == 0:
            raise ValueError("predict needs at least one input row")
        with _inference(self.model):
            outputs = [self.model(*batch).numpy() for batch in loader]
        return np.concatenate(outputs)

    # ----- checkpoints -----
    def checkpoint(self) -> Checkpoint:
        """The run's state now; taken at the end of an epoch, it resumes at the next one."""
        loaders = {"train": self.train_loader, "val": self.val_loader}
        return Checkpoint(
            epoch=self.epoch,
            model={k: v.numpy().copy() for k, v in self.model.state_dict().items()},
            optimizer=self.optimizer.state_dict(),
            rng=get_rng_state(),
            loaders={k: v.state_dict() for k, v in loaders.items() if v is not None},
            callbacks={k: s for k, c in self._named_callbacks() if (s := c.state_dict())},
            logs=dict(self.epoch_logs),
        )

    def _restore(self, checkpoint: Checkpoint) -> None:
        """Take ``checkpoint``'s state; callbacks that it does not know keep theirs."""
        self.model.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        set_rng_state(checkpoint.rng)
        loaders = {"train": self.train_loader, "val": self.val_loader}
        for role, loader in loaders.items():
            if loader is not None and role in checkpoint.loaders:
                loader.load_state_dict(checkpoint.loaders[role])
        for key, callback in self._named_callbacks():
            if key in checkpoint.callbacks:
                callback.load_state_dict(checkpoint.callbacks[key])
        self.epoch = checkpoint.epoch
        self.epoch_logs = dict(checkpoint.logs)

    def _named_callbacks(self) -> list[tuple[str, Callback]]:
        """Callbacks by their checkpoint key: the name, numbered from the second of a name."""
        seen: dict[str, int] = {}
        named = []
        for callback in self.callbacks:
            count = seen.get(callback.name, 0)
            seen[callback.name] = count + 1
            named.append((callback.name if count == 0 else f"{callback.name}#{count}", callback))
        return named


@contextmanager
def _inference(model: Module) -> Iterator[None]:
    """Eval mode and no graph for the duration of a ``with``; the model's mode comes back after."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def _split(batch: Sequence[Tensor]) -> tuple[Sequence[Tensor], Tensor]:
    """``(*inputs, target)`` of a batch, checked so that a dataset without targets fails clearly."""
    if len(batch) < 2:
        raise ValueError(
            f"a training batch must be (inputs..., target), but it has {len(batch)} field(s): "
            "build the dataset with the targets last, e.g. TensorDataset(x, y)"
        )
    return batch[:-1], batch[-1]
