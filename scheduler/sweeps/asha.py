"""ASHA, asynchronous successive halving: which trials go on at each rung, decided at once.

The rungs are at `grace_epochs * reduction_factor^k` epochs, every one below the config's
`epochs` (which a trial that is never stopped trains in full). When a trial ends the epoch of a
rung, it goes on only if its objective there is in the top ⌊n/η⌋ (at least one) of the n trials
that have reached that rung so far, itself included. Nobody waits for a rung to fill: the first
trial at a rung always goes on, and a later one is judged against those before it. That is what
makes it asynchronous, and why it stops fewer trials early in a sweep than late.

A decision is final: a trial that went on at a rung is never stopped there later, and a trial
resumed after a fault that ends a rung's epoch again is not judged again (its rung history is
stored). Ties go on. An objective that is not a number (a run that diverged) is always stopped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MODES = ("min", "max")


def rungs(grace_epochs: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """The epochs at which ASHA decides: grace·η^k below `max_epochs`."""
    if grace_epochs < 1 or reduction_factor < 2:
        raise ValueError("grace_epochs must be at least 1 and reduction_factor at least 2")
    epochs = []
    epoch = grace_epochs
    while epoch < max_epochs:
        epochs.append(epoch)
        epoch *= reduction_factor
    return epochs


@dataclass(frozen=True)
class Decision:
    """What ASHA decided for one trial at one rung, and why, in words."""

    rung: int
    epoch: int
    objective: float
    promoted: bool
    trials_at_rung: int
    cutoff: float
    reason: str


def decide(
    *,
    rung: int,
    epoch: int,
    objective: float,
    earlier: Sequence[float],
    reduction_factor: int,
    mode: str,
    metric: str,
) -> Decision:
    """Judge a trial that reached `rung` with `objective`, after the `earlier` trials there."""
    if mode not in MODES:
        raise ValueError(f"mode must be min or max, got {mode!r}")
    ranked = sorted(
        (value for value in [*earlier, objective] if math.isfinite(value)),
        reverse=mode == "max",
    )
    trials = len(earlier) + 1
    keep = max(1, trials // reduction_factor)
    cutoff = ranked[min(keep, len(ranked)) - 1] if ranked else math.nan
    if not math.isfinite(objective):
        promoted = False
    else:
        promoted = objective <= cutoff if mode == "min" else objective >= cutoff
    share = f"the top {keep} of {trials} trials" if keep > 1 else f"the best of {trials} trials"
    verdict = f"is in {share}" if promoted else f"is not in {share}"
    if trials == 1 and promoted:
        verdict = "is the first"
    then = "goes on" if promoted else "stopped"
    reason = (
        f"rung {rung} (epoch {epoch}): {metric} {objective:.6g} {verdict} at this rung "
        f"(cut-off {cutoff:.6g}, {mode}): {then}"
    )
    return Decision(rung, epoch, objective, promoted, trials, cutoff, reason)
