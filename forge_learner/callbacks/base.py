"""``Callback``: the base class of everything that watches or steers a ``Learner``'s training.

A callback overrides the events it cares about (Keras's names and arguments, see
``forge_learner.events``); the learner calls them in ``order``, lowest first, callbacks of
equal order in the order they were given. A callback steers the run by raising a cancel
exception (``CancelBatch``, ``CancelEpoch``, ``CancelFit``) or by calling ``learner.stop()``.
An exception raised at an event also keeps the callbacks after this one from seeing that
event: to end training after an epoch that every callback should still see end (as early
stopping does), call ``learner.stop()`` from ``on_epoch_end`` instead of raising ``CancelFit``.

The built-ins' orders leave room around them: ``LRScheduler`` 10 (adds ``learning_rate`` to
the epoch's logs), ``EarlyStopping`` 20, ``History`` 30, ``ModelCheckpoint`` 40 (its checkpoint
holds the others' updated states), ``ProgressBar`` 50. A callback that reports the logs
elsewhere should run after them (order above 50) to send what the history records.

A callback that must survive a resume (a history, a patience counter, a schedule) returns its
state from ``state_dict()`` as plain data, and a checkpoint carries it to the resumed run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forge_learner.events import Logs

if TYPE_CHECKING:
    from forge_learner.learner import Learner
    from forge_learner.pipeline import Verdict


class Callback:
    """Does nothing at every event; subclasses override what they need."""

    order: int = 0
    """When this callback runs among the others at each event: lowest first."""

    _learner: Learner | None = None

    @property
    def learner(self) -> Learner:
        """The learner this callback is attached to (set by ``Learner.add_callback``)."""
        if self._learner is None:
            raise RuntimeError(
                f"{type(self).__name__} is not attached to a Learner: pass it in "
                "Learner(..., callbacks=[...]) or to learner.add_callback()"
            )
        return self._learner

    @learner.setter
    def learner(self, learner: Learner) -> None:
        self._learner = learner

    @property
    def name(self) -> str:
        """The name its state is stored under in a checkpoint."""
        return type(self).__name__

    def __call__(self, event: str, *args: Any) -> None:
        """Handle one event; the learner calls this, so a subclass can see every event here.

        A callback that forwards events elsewhere (to another process, a queue) overrides this
        one method instead of all nine.
        """
        getattr(self, event)(*args)

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs of this callback, as plain data; nothing by default."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` returned in the interrupted run."""

    def on_train_begin(self, logs: Logs) -> None:
        """Before the first epoch; ``logs`` holds ``epochs``, ``steps``, ``initial_epoch``."""

    def on_train_cancel(self, logs: Logs) -> None:
        """The fit was cancelled (``logs["reason"]`` says why); ``on_train_end`` follows."""

    def on_train_end(self, logs: Logs) -> None:
        """After the last epoch or a cancel; ``logs`` are the last finished epoch's."""

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        """Before epoch ``epoch`` (0-based); ``logs`` is empty."""

    def on_epoch_cancel(self, epoch: int, logs: Logs) -> None:
        """The epoch was cancelled; its ``on_epoch_end`` follows, without validation."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        """After training and validating; ``logs`` has ``loss``, metrics and ``val_*``."""

    def on_batch_begin(self, batch: int, logs: Logs) -> None:
        """Before training batch ``batch`` (0-based in the epoch); ``logs["size"]`` samples."""

    def on_batch_cancel(self, batch: int, logs: Logs) -> None:
        """The batch was cancelled; its ``on_batch_end`` follows."""

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        """After the optimizer step; ``logs`` has the epoch's running ``loss`` and metrics."""

    def on_run_evaluated(self, verdict: Verdict) -> None:
        """A pipeline's run evaluated the trained model; its files are written next.

        ``BasePipeline.run`` fires it after the fit's ``on_train_end``, not the learner: a bare
        ``Learner.fit`` never does, nor does a pipeline that overrides ``run``.
        """
