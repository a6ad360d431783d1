/**
 * A sweep as the page shows it: the stored sweep (`GET /sweeps/{id}`) with the events that came
 * after it folded in, and ASHA's decisions in the order they were made.
 *
 * The stored sweep already holds every event up to its `lastSeq`, so only later events change
 * it; the decisions are not stored on the sweep, so they come from the whole event log (the
 * socket replays it from the start). The best trial is the one whose latest objective is best
 * (`min` or `max`), recomputed as trials report, so the page never waits for the server to
 * name it; the `finished` event's choice has the last word.
 */

import type { AshaDecision, RungResult, Sweep, SweepEvent, SweepTrial } from "../api/sweeps";

/** The epochs one trial trains at most: the base config's `epochs`, else what the stored budget implies. */
export function epochsPerTrial(sweep: Sweep): number {
  const epochs = sweep.spec.config.epochs;
  if (typeof epochs === "number" && epochs > 0) return epochs;
  return sweep.trials.length > 0 ? Math.round(sweep.epochsBudget / sweep.trials.length) : 0;
}

function hasObjective(trial: SweepTrial): trial is SweepTrial & { objective: number } {
  return trial.objective !== null && Number.isFinite(trial.objective);
}

/** The trial with the best latest objective; null while none has one. Ties go to the earlier trial. */
export function bestOf(trials: SweepTrial[], mode: "min" | "max"): SweepTrial | null {
  let best: (SweepTrial & { objective: number }) | null = null;
  for (const trial of trials) {
    if (!hasObjective(trial)) continue;
    if (best === null || (mode === "min" ? trial.objective < best.objective : trial.objective > best.objective)) {
      best = trial;
    }
  }
  return best;
}

function withTrial(sweep: Sweep, trial: SweepTrial): Sweep {
  const previous = sweep.trials.find((item) => item.number === trial.number);
  const trials = previous
    ? sweep.trials.map((item) => (item.number === trial.number ? trial : item))
    : [...sweep.trials, trial].sort((a, b) => a.number - b.number);
  // A resumed trial may report fewer epochs than before; epochs already spent stay spent.
  const spent = sweep.epochsSpent + Math.max(0, trial.epochsDone - (previous?.epochsDone ?? 0));
  const budget = previous ? sweep.epochsBudget : sweep.epochsBudget + epochsPerTrial(sweep);
  return {
    ...sweep,
    trials,
    bestTrial: bestOf(trials, sweep.spec.objective.mode) ?? sweep.bestTrial,
    epochsSpent: spent,
    epochsBudget: budget,
  };
}

/** The rungs of both, each rung once, the later word on a rung winning: a history only grows. */
function mergedRungs(earlier: RungResult[], later: RungResult[]): RungResult[] {
  const byRung = new Map(earlier.map((result) => [result.rung, result]));
  for (const result of later) byRung.set(result.rung, result);
  return [...byRung.values()].sort((a, b) => a.rung - b.rung);
}

/** `sweep` after `event`; events the stored sweep already holds change nothing. */
export function applySweepEvent(sweep: Sweep, event: SweepEvent): Sweep {
  if (event.seq <= sweep.lastSeq) return sweep;
  const next = { ...sweep, lastSeq: event.seq };
  switch (event.type) {
    case "trialChanged": {
      const previous = next.trials.find((trial) => trial.number === event.trial.number);
      return withTrial(next, { ...event.trial, rungs: mergedRungs(previous?.rungs ?? [], event.trial.rungs) });
    }
    case "decision": {
      // The decision may come before the trial's own change; its rung shows at once either way.
      const trial = next.trials.find((item) => item.number === event.decision.trial);
      if (!trial) return next;
      const rungs = mergedRungs(trial.rungs, [event.decision.result]);
      return { ...next, trials: next.trials.map((item) => (item === trial ? { ...trial, rungs } : item)) };
    }
    case "finished":
      return {
        ...next,
        status: event.status,
        bestTrial: event.bestTrial ?? next.bestTrial,
        errorMessage: event.errorMessage || next.errorMessage,
      };
    default:
      return next;
  }
}

/** ASHA's decisions in the log, in the order they were made, each once. */
export function decisionsOf(events: SweepEvent[]): AshaDecision[] {
  const seen = new Set<number>();
  const decisions: AshaDecision[] = [];
  for (const event of events) {
    if (event.type !== "decision" || seen.has(event.seq)) continue;
    seen.add(event.seq);
    decisions.push(event.decision);
  }
  return decisions;
}
