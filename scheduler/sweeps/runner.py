"""Running sweeps in the scheduler: drawing trials as slots free up, and ASHA on live epochs.

A sweep's trials are ordinary experiments (named "<sweep> #<n>", linked by `sweep_id` and
`sweep_trial`), placed on the trainer pool like any other. For each unfinished sweep the runner
keeps a driver task:

- it submits trials, `parallelism` at a time, in the order they were drawn at submission, and
  the next one as each ends, until every trial is drawn;
- for each running trial it follows the experiment's stored events (`scheduler.watch`, the
  same gap-free stream WatchExperiment reads), from the last one the sweep has read. When an
  epoch that is an ASHA rung ends, the trial is judged at once against the trials that reached
  that rung before it (`scheduler.sweeps.asha`, decided under a lock on the sweep,
  `Store.decide_rung`); a trial left behind is stopped on its trainer and ends STOPPED_EARLY,
  with the decision as its reason (`Placement.stop_early`);
- once every trial has ended, the sweep SUCCEEDS if any reported its objective, else FAILS.

Everything a sweep knows lives in the database (its plan with every trial drawn, each trial's
progress and where its events were read to, every rung's decision), so a scheduler that
restarts picks up every unfinished sweep (`start`), reads on from where it stopped, and judges
no rung twice: a trial resumed after a fault keeps its rung history, and one that was stopped
before the restart is stopped again. Every change is a `SweepEvent`, stored then published on
`forge.sweeps.<id>.events` (`Store.append_sweep_event`, `Bus.publish_sweep_event`).

Several schedulers on one Postgres each drive every unfinished sweep: the locks and keys in
`scheduler.store.sweeps` keep their draws and decisions single, though a trial's progress may
then be told twice in the sweep's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from azuraforge.v1 import events_pb2, sweep_pb2
from scheduler.bus import Bus
from scheduler.db.models import SweepState
from scheduler.errors import BadRequest
from scheduler.placement import Placement
from scheduler.recorder import Recorder, log_event
from scheduler.records import Caller, RungRecord, StatusChange, SweepRecord, TrialRecord
from scheduler.store import IllegalTransition, NotFound, Store
from scheduler.sweeps.asha import Decision, decide
from scheduler.sweeps.convert import best_trial, state_to_proto, trial_to_proto
from scheduler.sweeps.plan import SweepPlan, check_sweep, trial_config
from scheduler.watch import watch_events

log = logging.getLogger(__name__)

# How often a driver looks at its sweep when nothing woke it (a trial ended elsewhere).
POLL_S = 5.0


class SweepRunner:
    """Submits, follows, judges and ends sweeps; see the module docstring."""

    def __init__(
        self, store: Store, bus: Bus, recorder: Recorder, placement: Placement, *, max_restarts: int
    ) -> None:
        self.store = store
        self.bus = bus
        self.recorder = recorder
        self.placement = placement
        self.max_restarts = max_restarts
        self._drivers: dict[str, asyncio.Task[None]] = {}
        self._wakes: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        """Carry on with every sweep that has not finished (after a restart, say)."""
        for sweep_id in await asyncio.to_thread(self.store.unfinished_sweep_ids):
            self._drive(sweep_id)

    async def stop(self) -> None:
        """Stop driving; the sweeps carry on at the next start."""
        drivers = list(self._drivers.values())
        for task in drivers:
            task.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        self._drivers.clear()

    async def submit(self, caller: Caller, spec: sweep_pb2.SweepSpec) -> SweepRecord:
        """Check `spec` (`BadRequest` naming each bad field), store the sweep and start it."""
        plan = await asyncio.to_thread(check_sweep, self.store, spec)
        sweep = await asyncio.to_thread(
            self.store.create_sweep, caller.user_id, plan.name, plan.pipeline, plan.to_json()
        )
        await self._fill(sweep.id, plan)
        self._drive(sweep.id)
        return await asyncio.to_thread(self.store.get_sweep, sweep.id, caller=None)

    async def cancel(self, sweep_id: str, caller: Caller) -> SweepRecord:
        """Draw no more trials, cancel the pending and running ones, and end the sweep."""
        sweep = await asyncio.to_thread(self.store.mark_sweep_cancelled, sweep_id, caller=caller)
        if sweep.finished_at is not None:
            return sweep
        await asyncio.gather(
            *(
                self._cancel_trial(sweep_id, trial)
                for trial in sweep.trials
                if not trial.status.is_terminal
            )
        )
        await self._finish(sweep_id, SweepState.CANCELLED, "cancelled by request")
        return await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)

    async def _cancel_trial(self, sweep_id: str, trial: TrialRecord) -> None:
        with contextlib.suppress(IllegalTransition, NotFound):  # it ended meanwhile
            await self.placement.cancel(trial.experiment_id, caller=None)  # type: ignore[arg-type]
        await self._trial_changed(sweep_id, trial.number)

    def _drive(self, sweep_id: str) -> None:
        task = self._drivers.get(sweep_id)
        if task is None or task.done():
            self._drivers[sweep_id] = asyncio.create_task(
                self._run(sweep_id), name=f"sweep {sweep_id}"
            )

    def _wake(self, sweep_id: str) -> None:
        self._wakes.setdefault(sweep_id, asyncio.Event()).set()

    async def _run(self, sweep_id: str) -> None:
        wake = self._wakes.setdefault(sweep_id, asyncio.Event())
        followers: dict[int, asyncio.Task[None]] = {}
        try:
            while True:
                wake.clear()
                sweep = await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)
                if sweep.finished_at is not None:
                    return
                plan = SweepPlan.from_json(sweep.spec)
                if sweep.status is SweepState.RUNNING:
                    sweep = await self._fill(sweep_id, plan, sweep)
                active = [trial for trial in sweep.trials if not trial.status.is_terminal]
                for trial in active:
                    follower = followers.get(trial.number)
                    if follower is None or follower.done():
                        followers[trial.number] = asyncio.create_task(
                            self._follow(sweep_id, plan, trial)
                        )
                if not active and (
                    sweep.status is not SweepState.RUNNING or len(sweep.trials) >= len(plan.trials)
                ):
                    await self._finish_drawn(sweep_id, plan, sweep)
                    return
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("sweep %s failed", sweep_id)
            await self._finish(
                sweep_id,
                SweepState.FAILED,
                f"the scheduler lost track of the sweep ({type(error).__name__}: {error})",
            )
        finally:
            for follower in followers.values():
                follower.cancel()
            await asyncio.gather(*followers.values(), return_exceptions=True)

    async def _fill(
        self, sweep_id: str, plan: SweepPlan, sweep: SweepRecord | None = None
    ) -> SweepRecord:
        """Submit trials until `parallelism` are pending or running, or all are drawn."""
        if sweep is None:
            sweep = await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)
        active = sum(1 for trial in sweep.trials if not trial.status.is_terminal)
        number = len(sweep.trials) + 1
        added = False
        while active < plan.parallelism and number <= len(plan.trials):
            try:
                config = await asyncio.to_thread(trial_config, self.store, plan, number)
            except BadRequest as error:  # the pipeline changed since the sweep was checked
                await self._fail(sweep_id, f"trial #{number} cannot run: {error}")
                break
            experiment = await asyncio.to_thread(
                self.store.add_trial,
                sweep_id,
                number,
                plan.trials[number - 1],
                config,
                total_epochs=plan.epochs,
                max_restarts=self.max_restarts,
                name=f"{plan.name} #{number}",
            )
            if experiment is None:
                break  # cancelled, or drawn by another scheduler: look again later
            await self.recorder.changed(StatusChange(experiment, None))
            await self._trial_changed(sweep_id, number)
            added = True
            active += 1
            number += 1
        if added:
            self.placement.wake()
            sweep = await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)
        return sweep

    async def _follow(self, sweep_id: str, plan: SweepPlan, trial: TrialRecord) -> None:
        """Read one trial's events to its end, judging it at each rung it reaches."""
        try:
            stopped = next((rung for rung in trial.rungs if not rung.promoted), None)
            if stopped is not None:  # stopped before a restart, and still running
                await self.placement.stop_early(trial.experiment_id, trial.stop_reason)
            events = watch_events(self.store, self.bus, trial.experiment_id, trial.read_seq)
            async for event in events:
                kind = event.WhichOneof("kind")
                if kind == "epoch_ended":
                    if not await self._epoch_ended(sweep_id, plan, trial, event):
                        return
                elif kind in ("experiment_started", "experiment_finished", "experiment_resumed"):
                    await asyncio.to_thread(
                        self.store.note_trial, sweep_id, trial.number, read_seq=event.seq
                    )
                    await self._trial_changed(sweep_id, trial.number)
        finally:
            self._wake(sweep_id)

    async def _epoch_ended(
        self, sweep_id: str, plan: SweepPlan, trial: TrialRecord, event: events_pb2.ExperimentEvent
    ) -> bool:
        """Note an epoch's objective and judge a rung; False when the sweep cannot go on."""
        ended = event.epoch_ended
        if plan.metric not in ended.metrics:
            known = ", ".join(sorted(ended.metrics)) or "none"
            await self._fail(
                sweep_id,
                f"objective.metric {plan.metric!r} is not among the metrics trial "
                f"#{trial.number} reports at the end of an epoch ({known})",
            )
            return False
        value = ended.metrics[plan.metric]
        await asyncio.to_thread(
            self.store.note_trial,
            sweep_id,
            trial.number,
            read_seq=event.seq,
            epochs_done=ended.epoch,
            objective=value,
        )
        await self._trial_changed(sweep_id, trial.number)
        if plan.asha is None or ended.epoch not in plan.rungs:
            return True
        rung = plan.rungs.index(ended.epoch)
        decision, result = await asyncio.to_thread(
            self.store.decide_rung,
            sweep_id,
            trial.number,
            rung,
            lambda earlier: decide(
                rung=rung,
                epoch=ended.epoch,
                objective=value,
                earlier=earlier,
                reduction_factor=plan.asha[1] if plan.asha else 2,
                mode=plan.mode,
                metric=plan.metric,
            ),
            lambda d: RungRecord(
                rung, trial.number, ended.epoch, _storable(value, plan.mode), d.promoted
            ),
        )
        if decision is not None:
            await self._decided(sweep_id, trial, result, decision)
        if not result.promoted:
            reason = decision.reason if decision is not None else trial.stop_reason
            await self.placement.stop_early(trial.experiment_id, reason)
        return True

    async def _decided(
        self, sweep_id: str, trial: TrialRecord, result: RungRecord, decision: Decision
    ) -> None:
        if not decision.promoted:
            await asyncio.to_thread(
                self.store.note_trial,
                sweep_id,
                trial.number,
                read_seq=0,
                stop_reason=decision.reason,
            )
        log.info("sweep %s trial #%d: %s", sweep_id, trial.number, decision.reason)
        # In the trial's own log too, where its owner reads how its run went. A rung is below
        # the trial's last epoch, so the run is still going and its log still open.
        await self.recorder.event(
            trial.experiment_id, log_event(f"sweep {sweep_id}, ASHA: {decision.reason}", "INFO")
        )
        await self._emit(
            sweep_id,
            sweep_pb2.SweepEvent(
                decision=sweep_pb2.AshaDecision(
                    trial=trial.number,
                    experiment_id=trial.experiment_id,
                    result=sweep_pb2.RungResult(
                        rung=result.rung,
                        epoch=result.epoch,
                        objective=result.objective,
                        promoted=result.promoted,
                    ),
                    trials_at_rung=decision.trials_at_rung,
                    cutoff=decision.cutoff,
                    reason=decision.reason,
                )
            ),
        )
        await self._trial_changed(sweep_id, trial.number)

    async def _trial_changed(self, sweep_id: str, number: int) -> None:
        sweep = await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)
        for trial in sweep.trials:
            if trial.number == number:
                await self._emit(
                    sweep_id,
                    sweep_pb2.SweepEvent(
                        trial_changed=sweep_pb2.SweepTrialChanged(trial=trial_to_proto(trial))
                    ),
                )

    async def _emit(self, sweep_id: str, event: sweep_pb2.SweepEvent) -> None:
        stored = await asyncio.to_thread(self.store.append_sweep_event, sweep_id, event)
        if stored is not None:
            await self.bus.publish_sweep_event(stored)

    async def _finish_drawn(self, sweep_id: str, plan: SweepPlan, sweep: SweepRecord) -> None:
        """End a sweep whose trials have all ended."""
        if best_trial(sweep.trials, plan.mode) is not None:
            await self._finish(sweep_id, SweepState.SUCCEEDED, "")
            return
        endings = ", ".join(f"#{t.number} {t.status.value}" for t in sweep.trials) or "none"
        await self._finish(
            sweep_id,
            SweepState.FAILED,
            f"no trial reported objective {plan.metric!r} (trials: {endings})",
        )

    async def _fail(self, sweep_id: str, message: str) -> None:
        """End the sweep as FAILED, cancelling what still runs."""
        sweep = await asyncio.to_thread(self.store.mark_sweep_cancelled, sweep_id, caller=None)
        await asyncio.gather(
            *(
                self._cancel_trial(sweep_id, trial)
                for trial in sweep.trials
                if not trial.status.is_terminal
            )
        )
        await self._finish(sweep_id, SweepState.FAILED, message, force=True)

    async def _finish(
        self, sweep_id: str, status: SweepState, message: str, *, force: bool = False
    ) -> None:
        sweep = await asyncio.to_thread(self.store.get_sweep, sweep_id, caller=None)
        plan = SweepPlan.from_json(sweep.spec)
        best = best_trial(sweep.trials, plan.mode)
        finished = sweep_pb2.SweepFinished(status=state_to_proto(status), error_message=message)
        if best is not None:
            finished.best_trial.CopyFrom(trial_to_proto(best))
        stored = await asyncio.to_thread(
            self.store.finish_sweep,
            sweep_id,
            status,
            sweep_pb2.SweepEvent(finished=finished),
            force=force,
        )
        if stored is not None:
            await self.bus.publish_sweep_event(stored)
            log.info("sweep %s finished: %s %s", sweep_id, status.value, message)
        self._wake(sweep_id)


def _storable(value: float, mode: str) -> float:
    """An objective the database can compare: a diverged (NaN) one as the worst there is."""
    if not math.isnan(value):
        return value
    return math.inf if mode == "min" else -math.inf
