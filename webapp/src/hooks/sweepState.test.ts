import { describe, expect, it } from "vitest";
import { parseSweep, parseSweepEvent } from "../api/sweeps";
import { decision, finished, trialChanged, wireSweep, wireTrial } from "../test/sweeps";
import { applySweepEvent, bestOf, decisionsOf } from "./sweepState";

const events = (...raw: Record<string, unknown>[]) => raw.map(parseSweepEvent);

describe("a sweep's live state", () => {
  it("adds drawn trials, updates them as they report, and counts epochs against the budget", () => {
    const start = parseSweep(wireSweep());
    const sweep = events(
      trialChanged(1, wireTrial(2)),
      trialChanged(2, wireTrial(1)),
      trialChanged(3, wireTrial(1, { epochs_done: 1, objective: 0.5 })),
      trialChanged(4, wireTrial(2, { epochs_done: 1, objective: 0.3 })),
      trialChanged(5, wireTrial(2, { epochs_done: 2, objective: 0.25 })),
    ).reduce(applySweepEvent, start);
    expect(sweep.trials.map((trial) => [trial.number, trial.epochsDone, trial.objective])).toEqual([
      [1, 1, 0.5],
      [2, 2, 0.25],
    ]);
    expect(sweep.epochsSpent).toBe(3);
    expect(sweep.epochsBudget).toBe(18);
    expect(sweep.bestTrial?.number).toBe(2);
    expect(sweep.lastSeq).toBe(5);
  });

  it("skips what the stored sweep already holds", () => {
    const start = parseSweep(wireSweep({ trials: [wireTrial(1, { epochs_done: 2, objective: 0.4 })], last_seq: 6, epochs_spent: 2, epochs_budget: 9 }));
    const sweep = events(trialChanged(3, wireTrial(1, { epochs_done: 1, objective: 0.5 }))).reduce(applySweepEvent, start);
    expect(sweep).toBe(start);
  });

  it("takes the status and best trial from the finished event", () => {
    const start = parseSweep(wireSweep({ trials: [wireTrial(1, { objective: 0.4 })] }));
    const sweep = events(finished(8, "SWEEP_STATUS_SUCCEEDED", wireTrial(1, { objective: 0.4, status: "EXPERIMENT_STATUS_SUCCEEDED" }))).reduce(
      applySweepEvent,
      start,
    );
    expect(sweep.status).toBe("succeeded");
    expect(sweep.bestTrial?.status).toBe("succeeded");
  });

  it("picks the best by the objective's mode, the earlier trial on a tie", () => {
    const trials = parseSweep(
      wireSweep({ trials: [wireTrial(1, { objective: 0.4 }), wireTrial(2), wireTrial(3, { objective: 0.9 }), wireTrial(4, { objective: 0.4 })] }),
    ).trials;
    expect(bestOf(trials, "min")?.number).toBe(1);
    expect(bestOf(trials, "max")?.number).toBe(3);
    expect(bestOf(trials.slice(1, 2), "min")).toBeNull();
  });

  it("keeps a trial's rung history as it grows, from its changes and from the decisions", () => {
    const start = parseSweep(wireSweep());
    const rung0 = { rung: 0, epoch: 1, objective: 0.3, promoted: true };
    const log = events(
      trialChanged(1, wireTrial(1, { epochs_done: 1, objective: 0.3 })),
      decision(2, 1, true, 0.3, 0.3),
      trialChanged(3, wireTrial(1, { epochs_done: 2, objective: 0.28 })),
    );
    // A change that sends no rungs does not forget the one decided.
    expect(log.reduce(applySweepEvent, start).trials[0]?.rungs).toEqual([rung0]);
    const rung1 = { rung: 1, epoch: 3, objective: 0.27, promoted: false };
    const later = events(trialChanged(4, wireTrial(1, { epochs_done: 3, objective: 0.27, rungs: [rung0, rung1] })));
    const sweep = [...log, ...later].reduce(applySweepEvent, start);
    expect(sweep.trials[0]?.rungs.map((rung) => [rung.rung, rung.promoted])).toEqual([
      [0, true],
      [1, false],
    ]);
    const early = events(trialChanged(1, wireTrial(1)), decision(2, 1, true, 0.3, 0.3)).reduce(applySweepEvent, start);
    expect(early.trials[0]?.rungs).toEqual([rung0]);
  });

  it("lists each decision once, in order", () => {
    const log = events(decision(1, 1, true, 0.3, 0.3), decision(2, 2, false, 0.5, 0.3), trialChanged(3, wireTrial(2)));
    expect(decisionsOf([...log, log[1]!]).map((item) => [item.trial, item.result.promoted])).toEqual([
      [1, true],
      [2, false],
    ]);
  });
});
