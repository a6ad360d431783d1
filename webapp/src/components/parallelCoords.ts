/**
 * The geometry of a sweep's parallel-coordinates plot, as pure functions the SVG draws from.
 *
 * One vertical axis per varied setting, in the space's order, then one for the objective. A
 * range's axis spans the range the space allows (log-scaled for a log-uniform one, so 0.001 to
 * 0.01 is as tall as 0.01 to 0.1); a choice's axis spaces its values evenly. The objective's
 * axis spans what the trials have reported so far and is turned so that better is always up
 * (for `min`, the lowest value is at the top). Each trial is a line through its values; a trial
 * with no objective yet stops at the last setting.
 */

import type { Objective, SpaceEntry, SweepTrial } from "../api/sweeps";
import { formatMetric, formatValue } from "../format";

export type AxisScale = "linear" | "log" | "category";

export interface Axis {
  /** The setting's name, or the objective's metric. */
  key: string;
  scale: AxisScale;
  /** A numeric axis's ends, lower first. */
  low: number;
  high: number;
  /** A choice's values as shown. */
  categories: string[];
  /** Whether the high end is at the bottom (a `min` objective). */
  inverted: boolean;
  objective: boolean;
}

export interface Tick {
  /** 0 at the bottom of the axis, 1 at the top. */
  at: number;
  label: string;
}

function padded(low: number, high: number): [number, number] {
  if (low < high) return [low, high];
  const pad = Math.abs(low) * 0.1 || 1;
  return [low - pad, high + pad];
}

/** The axis of one varied setting, widened to take in any drawn value outside the space. */
export function settingAxis(entry: SpaceEntry, trials: SweepTrial[]): Axis {
  const base = { key: entry.setting, categories: [] as string[], inverted: false, objective: false };
  if (entry.kind === "choice") {
    const categories = entry.values.map(formatValue);
    for (const trial of trials) {
      const value = formatValue(trial.settings[entry.setting]);
      if (entry.setting in trial.settings && !categories.includes(value)) categories.push(value);
    }
    return { ...base, scale: "category", low: 0, high: 0, categories };
  }
  let low = entry.low;
  let high = entry.high;
  for (const trial of trials) {
    const value = trial.settings[entry.setting];
    if (typeof value === "number" && Number.isFinite(value)) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  const log = entry.kind === "loguniform" && low > 0;
  if (log) return { ...base, scale: "log", low, high: high > low ? high : low * 10 };
  const [from, to] = padded(low, high);
  return { ...base, scale: "linear", low: from, high: to };
}

/** The objective's axis over the values reported so far; better is up. */
export function objectiveAxis(objective: Objective, trials: SweepTrial[]): Axis {
  const values = trials.map((trial) => trial.objective).filter((value): value is number => value !== null && Number.isFinite(value));
  const [low, high] = values.length ? padded(Math.min(...values), Math.max(...values)) : [0, 1];
  return {
    key: objective.metric,
    scale: "linear",
    low,
    high,
    categories: [],
    inverted: objective.mode === "min",
    objective: true,
  };
}

export function axesFor(space: SpaceEntry[], objective: Objective, trials: SweepTrial[]): Axis[] {
  return [...space.map((entry) => settingAxis(entry, trials)), objectiveAxis(objective, trials)];
}

/** Where `value` sits on `axis`, from 0 (bottom) to 1 (top); null when it is not on it. */
export function positionOn(axis: Axis, value: unknown): number | null {
  let at: number;
  if (axis.scale === "category") {
    const index = axis.categories.indexOf(formatValue(value));
    if (index === -1) return null;
    at = axis.categories.length === 1 ? 0.5 : index / (axis.categories.length - 1);
  } else {
    if (typeof value !== "number" || !Number.isFinite(value)) return null;
    if (axis.scale === "log") {
      if (value <= 0) return null;
      at = (Math.log10(value) - Math.log10(axis.low)) / (Math.log10(axis.high) - Math.log10(axis.low));
    } else {
      at = (value - axis.low) / (axis.high - axis.low);
    }
  }
  return axis.inverted ? 1 - at : at;
}

/** 1, 2 or 5 times a power of ten: the step of about `rough` that reads well. */
export function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(rough));
  const scaled = rough / power;
  return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
}

/**
 * An axis's labelled marks: every choice; a numeric axis's ends (the extremes a user looks for)
 * with round values between them (multiples of a 1-2-5 step, or powers of ten on a log axis),
 * leaving out one so close to an end that the labels would overlap.
 */
export function ticksOf(axis: Axis): Tick[] {
  const marks: number[] = [];
  if (axis.scale === "category") {
    return axis.categories.map((label) => ({ at: positionOn(axis, label) as number, label }));
  }
  if (axis.scale === "log") {
    marks.push(axis.low);
    for (let power = Math.ceil(Math.log10(axis.low)); 10 ** power < axis.high; power += 1) {
      const value = 10 ** power;
      // A power of ten right by an end would print over it.
      if (value / axis.low > 1.25 && axis.high / value > 1.25) marks.push(value);
    }
    marks.push(axis.high);
  } else {
    const step = niceStep((axis.high - axis.low) / 4);
    marks.push(axis.low);
    for (let index = Math.ceil(axis.low / step); index * step < axis.high; index += 1) {
      const value = Number((index * step).toPrecision(12));
      if (value - axis.low > step * 0.4 && axis.high - value > step * 0.4) marks.push(value);
    }
    marks.push(axis.high);
  }
  return marks.map((value) => ({ at: positionOn(axis, value) as number, label: formatMetric(value) }));
}

export interface PlotSize {
  width: number;
  height: number;
  /** Room above the axes for their names, below for the lowest tick, and beside for tick labels. */
  top: number;
  bottom: number;
  side: number;
}

export const PLOT_SIZE: PlotSize = { width: 760, height: 320, top: 36, bottom: 20, side: 64 };

/** The width that leaves every axis room for its labels. */
export function plotWidth(axisCount: number): number {
  return Math.max(PLOT_SIZE.width, axisCount * 150);
}

/** The x of axis `index` of `count`. */
export function axisX(index: number, count: number, size: PlotSize): number {
  if (count <= 1) return size.width / 2;
  return size.side + (index * (size.width - 2 * size.side)) / (count - 1);
}

/** The y of a position from `positionOn`. */
export function axisY(at: number, size: PlotSize): number {
  return size.top + (1 - at) * (size.height - size.top - size.bottom);
}

export interface TrialLine {
  trial: SweepTrial;
  points: [number, number][];
  /** Whether the line reaches the objective's axis. */
  complete: boolean;
}

/** Each trial's line: a point on every axis it has a value for, left to right. */
export function trialLines(axes: Axis[], trials: SweepTrial[], size: PlotSize): TrialLine[] {
  return trials.map((trial) => {
    const points: [number, number][] = [];
    let complete = false;
    axes.forEach((axis, index) => {
      const value = axis.objective ? trial.objective : trial.settings[axis.key];
      const at = positionOn(axis, value);
      if (at === null) return;
      points.push([axisX(index, axes.length, size), axisY(at, size)]);
      if (axis.objective) complete = true;
    });
    return { trial, points, complete };
  });
}

/** An SVG path through `points`. */
export function pathOf(points: [number, number][]): string {
  return points.map(([x, y], index) => `${index === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
}
