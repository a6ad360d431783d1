import { describe, expect, it } from "vitest";
import { MalformedMessage } from "./messages";
import { parseSpace, parseSweep, parseSweepEvent } from "./sweeps";
import { decision, finished, trialChanged, wireSweep, wireTrial } from "../test/sweeps";

describe("reading sweeps from the wire", () => {
  it("reads a sweep with its spec, trials and best trial, in either spelling", () => {
    const sweep = parseSweep(
      wireSweep({
        trials: [wireTrial(1, { objective: 0.4, epochs_done: "3" }), wireTrial(2)],
        bestTrial: wireTrial(1, { objective: 0.4 }),
        epochs_spent: 3,
        epochs_budget: 18,
        last_seq: "12",
      }),
    );
    expect(sweep.status).toBe("running");
    expect(sweep.spec).toMatchObject({
      pipeline: "weather_forecaster",
      seed: 7,
      maxTrials: 9,
      objective: { metric: "val_loss", mode: "min" },
      asha: { graceEpochs: 1, reductionFactor: 3 },
    });
    expect(sweep.spec.space).toEqual([
      { setting: "learning_rate", kind: "loguniform", values: [], low: 0.0005, high: 0.05 },
      { setting: "hidden_size", kind: "choice", values: [4, 16, 32], low: 0, high: 0 },
    ]);
    expect(sweep.trials.map((trial) => [trial.number, trial.objective, trial.epochsDone])).toEqual([
      [1, 0.4, 3],
      [2, null, 0],
    ]);
    expect(sweep.bestTrial?.number).toBe(1);
    expect(sweep.finishedAt).toBeNull();
    expect(sweep.lastSeq).toBe(12);
  });

  it("reads no early stopping from an empty early_stopping, and no best trial when it is left out", () => {
    const sweep = parseSweep(wireSweep({ spec: { ...(wireSweep().spec as object), early_stopping: {} } }));
    expect(sweep.spec.asha).toBeNull();
    expect(sweep.bestTrial).toBeNull();
  });

  it("leaves out a space rule it does not know", () => {
    expect(parseSpace({ a: { normal: [0, 1] }, b: { int: [1, 5] } })).toEqual([
      { setting: "b", kind: "int", values: [], low: 1, high: 5 },
    ]);
  });

  it("reads each kind of event", () => {
    expect(parseSweepEvent(trialChanged(3, wireTrial(2, { status: "EXPERIMENT_STATUS_STOPPED_EARLY" })))).toMatchObject({
      type: "trialChanged",
      seq: 3,
      trial: { number: 2, status: "stopped_early" },
    });
    expect(parseSweepEvent(decision(4, 2, false, 0.5, 0.3))).toMatchObject({
      type: "decision",
      decision: { trial: 2, result: { rung: 0, epoch: 1, objective: 0.5, promoted: false }, trialsAtRung: 3, cutoff: 0.3 },
    });
    expect(parseSweepEvent(finished(9, "SWEEP_STATUS_SUCCEEDED", wireTrial(1, { objective: 0.2 })))).toMatchObject({
      type: "finished",
      status: "succeeded",
      bestTrial: { number: 1, objective: 0.2 },
    });
    expect(parseSweepEvent({ seq: 1, something_new: {} }).type).toBe("unknown");
  });

  it("refuses a sweep that does not fit its message, naming the message", () => {
    expect(() => parseSweep(wireSweep({ trials: "none" }))).toThrow(MalformedMessage);
    expect(() => parseSweep(wireSweep({ trials: "none" }))).toThrow(/azuraforge\.v1\.Sweep/);
  });
});
