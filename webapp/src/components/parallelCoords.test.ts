import { describe, expect, it } from "vitest";
import { parseSweep, type SpaceEntry } from "../api/sweeps";
import { wireSweep, wireTrial } from "../test/sweeps";
import { axesFor, axisX, axisY, niceStep, objectiveAxis, pathOf, positionOn, settingAxis, ticksOf, trialLines, type PlotSize } from "./parallelCoords";

const SIZE: PlotSize = { width: 500, height: 240, top: 20, bottom: 20, side: 50 };
const LOG: SpaceEntry = { setting: "learning_rate", kind: "loguniform", values: [], low: 0.001, high: 0.1 };
const CHOICE: SpaceEntry = { setting: "hidden_size", kind: "choice", values: [4, 16, 32], low: 0, high: 0 };
const INT: SpaceEntry = { setting: "lookback", kind: "int", values: [], low: 8, high: 24 };

describe("the parallel-coordinates geometry", () => {
  it("puts a log-uniform setting on a log axis: each decade as tall as the next", () => {
    const axis = settingAxis(LOG, []);
    expect(axis.scale).toBe("log");
    expect(positionOn(axis, 0.001)).toBeCloseTo(0);
    expect(positionOn(axis, 0.01)).toBeCloseTo(0.5);
    expect(positionOn(axis, 0.1)).toBeCloseTo(1);
    expect(positionOn(axis, 0)).toBeNull();
    expect(ticksOf(axis).map((tick) => [tick.label, Number(tick.at.toFixed(2))])).toEqual([
      ["0.001", 0],
      ["0.01", 0.5],
      ["0.1", 1],
    ]);
  });

  it("spaces a choice's values evenly and a range's linearly, widened to a drawn value outside it", () => {
    const choice = settingAxis(CHOICE, []);
    expect(choice.scale).toBe("category");
    expect([4, 16, 32].map((value) => positionOn(choice, value))).toEqual([0, 0.5, 1]);
    expect(positionOn(choice, 8)).toBeNull();
    const trials = parseSweep(wireSweep({ trials: [wireTrial(1, { settings: { lookback: 40 } })] })).trials;
    const range = settingAxis(INT, trials);
    expect([range.low, range.high]).toEqual([8, 40]);
    expect(positionOn(range, 24)).toBeCloseTo(0.5);
    // The ends, and the round values between that are not crowding them.
    expect(ticksOf(range).map((tick) => tick.label)).toEqual(["8", "20", "30", "40"]);
    expect(ticksOf({ ...range, low: 0.29, high: 0.62 }).map((tick) => tick.label)).toEqual(["0.29", "0.4", "0.5", "0.62"]);
  });

  it("steps ticks by 1, 2 or 5 times a power of ten", () => {
    expect([0.8, 1.5, 3, 7, 0.033].map(niceStep)).toEqual([1, 2, 5, 10, 0.05]);
  });

  it("spans the objective's axis over the reported values, with the better end up", () => {
    const trials = parseSweep(wireSweep({ trials: [wireTrial(1, { objective: 0.2 }), wireTrial(2, { objective: 0.6 }), wireTrial(3)] })).trials;
    const min = objectiveAxis({ metric: "val_loss", mode: "min" }, trials);
    expect([min.low, min.high]).toEqual([0.2, 0.6]);
    expect(positionOn(min, 0.2)).toBe(1);
    expect(positionOn(min, 0.6)).toBe(0);
    const max = objectiveAxis({ metric: "accuracy", mode: "max" }, trials);
    expect(positionOn(max, 0.6)).toBe(1);
    const single = objectiveAxis({ metric: "val_loss", mode: "min" }, trials.slice(0, 1));
    expect(single.low).toBeLessThan(0.2);
    expect(single.high).toBeGreaterThan(0.2);
  });

  it("places the axes evenly across, the objective last, and draws each trial through its values", () => {
    const trials = parseSweep(
      wireSweep({
        trials: [
          wireTrial(1, { settings: { learning_rate: 0.01, hidden_size: 32 }, objective: 0.2 }),
          wireTrial(2, { settings: { learning_rate: 0.001, hidden_size: 4 }, objective: 0.6 }),
          wireTrial(3, { settings: { learning_rate: 0.1, hidden_size: 16 } }),
        ],
      }),
    ).trials;
    const axes = axesFor([LOG, CHOICE], { metric: "val_loss", mode: "min" }, trials);
    expect(axes.map((axis) => axis.key)).toEqual(["learning_rate", "hidden_size", "val_loss"]);
    expect([0, 1, 2].map((index) => axisX(index, 3, SIZE))).toEqual([50, 250, 450]);
    expect([axisY(0, SIZE), axisY(1, SIZE)]).toEqual([220, 20]);
    const lines = trialLines(axes, trials, SIZE);
    // Trial 1: lr 0.01 halfway up, hidden 32 at the top, the best val_loss at the top.
    expect(lines[0]?.points).toEqual([
      [50, 120],
      [250, 20],
      [450, 20],
    ]);
    expect(lines[0]?.complete).toBe(true);
    // Trial 3 has no objective yet: its line stops at the last setting.
    expect(lines[2]?.points).toEqual([
      [50, 20],
      [250, 120],
    ]);
    expect(lines[2]?.complete).toBe(false);
    expect(pathOf(lines[2]?.points ?? [])).toBe("M50.0,20.0 L250.0,120.0");
  });
});
