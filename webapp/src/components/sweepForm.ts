/**
 * The New experiment form's Sweep mode, as pure functions: which settings can be varied, the
 * range each starts with, the `POST /api/v1/sweeps` body the form builds, and the server's
 * complaints sorted next to the inputs they name.
 *
 * Ranges start from the schema: a positive number (a learning rate) gets a log-uniform range a
 * decade either side of its default, within its bounds; any other number a uniform range over
 * its bounds; an integer the whole numbers from half to twice its default; a choice or a
 * switch every value. `epochs` is not offered: it is what each trial trains at most, the
 * budget ASHA halves. As in the single-run form, text is sent typed when it parses and as
 * typed when it does not, so the server, which checks the space against the same schema,
 * names what is wrong.
 */

import type { SpaceKind, SweepRequest } from "../api/sweeps";
import type { FieldProblem } from "../api/types";
import { higherIsBetter } from "../format";
import { sortProblems, toConfig, typedNumber, type FormField, type FormValues, type SortedProblems } from "./schemaForm";

export interface RangeDraft {
  vary: boolean;
  kind: SpaceKind;
  /** A choice's values, comma-separated. */
  values: string;
  low: string;
  high: string;
}

export interface SweepDraft {
  ranges: Record<string, RangeDraft>;
  search: "random" | "grid";
  trials: string;
  parallelism: string;
  seed: string;
  metric: string;
  mode: "min" | "max";
  asha: boolean;
  grace: string;
  eta: string;
}

/** The trial budget, not a setting to search. */
const NOT_VARIED = new Set(["epochs"]);

export const KIND_LABELS: Record<SpaceKind, string> = {
  loguniform: "Log-uniform range",
  uniform: "Uniform range",
  int: "Whole numbers in a range",
  choice: "List of values",
};

/** The settings a sweep can vary, in the form's order. */
export function variableFields(fields: FormField[]): FormField[] {
  return fields.filter(
    (field) =>
      !NOT_VARIED.has(field.name) &&
      (field.kind === "integer" || field.kind === "number" || field.kind === "choice" || field.kind === "boolean"),
  );
}

/** The ways `field` can be drawn. */
export function kindsFor(field: FormField): SpaceKind[] {
  if (field.kind === "number") return ["loguniform", "uniform", "choice"];
  if (field.kind === "integer") return ["int", "choice"];
  return ["choice"];
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}

function clamp(value: number, field: FormField): number {
  let result = value;
  if (field.min !== undefined) result = Math.max(result, field.min);
  if (field.max !== undefined) result = Math.min(result, field.max);
  return result;
}

/** The range a setting starts with when the user chooses to vary it. */
export function defaultRange(field: FormField): RangeDraft {
  const base = { vary: false, values: "", low: "", high: "" };
  if (field.kind === "boolean") return { ...base, kind: "choice", values: "true, false" };
  if (field.kind === "choice") return { ...base, kind: "choice", values: field.choices.join(", ") };
  const fallback = typeof field.defaultValue === "number" ? field.defaultValue : (field.min ?? 0);
  if (field.kind === "integer") {
    const low = fallback > 0 ? clamp(Math.max(1, Math.floor(fallback / 2)), field) : (field.min ?? 0);
    const wanted = fallback > 0 ? fallback * 2 : low + 10;
    const high = Math.max(low + 1, field.max !== undefined ? Math.min(field.max, wanted) : wanted);
    const middle = fallback > low && fallback < high ? fallback : Math.round((low + high) / 2);
    return { ...base, kind: "int", low: String(low), high: String(high), values: [low, middle, high].join(", ") };
  }
  if (fallback > 0 && (field.min === undefined || field.min >= 0)) {
    const low = round(clamp(fallback / 10, field));
    const high = round(clamp(fallback * 10, field));
    if (low > 0 && high > low) {
      return { ...base, kind: "loguniform", low: String(low), high: String(high), values: [low, fallback, high].join(", ") };
    }
  }
  const low = field.min ?? fallback - (Math.abs(fallback) || 1);
  const high = field.max ?? fallback + (Math.abs(fallback) || 1);
  return { ...base, kind: "uniform", low: String(round(low)), high: String(round(high)), values: [low, high].map(round).join(", ") };
}

export function initialSweepDraft(fields: FormField[]): SweepDraft {
  return {
    ranges: Object.fromEntries(variableFields(fields).map((field) => [field.name, defaultRange(field)])),
    search: "random",
    trials: "9",
    parallelism: "2",
    seed: "0",
    metric: "val_loss",
    mode: "min",
    asha: true,
    grace: "1",
    eta: "3",
  };
}

/** The mode a metric's name suggests: accuracy is better higher, a loss lower. */
export function modeFor(metric: string): "min" | "max" {
  return higherIsBetter(metric.trim()) ? "max" : "min";
}

function choiceValue(field: FormField, text: string): unknown {
  if (field.kind === "boolean") return text === "true" ? true : text === "false" ? false : text;
  if (field.kind === "integer" || field.kind === "number") return typedNumber(text);
  return text;
}

/** One setting's rule in the space, e.g. `{"loguniform": [0.001, 0.1]}`. */
export function spaceRule(field: FormField, range: RangeDraft): Record<string, unknown[]> {
  if (range.kind === "choice") {
    const items = range.values
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
    return { choice: items.map((item) => choiceValue(field, item)) };
  }
  return { [range.kind]: [typedNumber(range.low), typedNumber(range.high)] };
}

/** The varied settings, in the form's order. */
export function variedNames(fields: FormField[], draft: SweepDraft): string[] {
  return variableFields(fields)
    .filter((field) => draft.ranges[field.name]?.vary)
    .map((field) => field.name);
}

/** The body of `POST /api/v1/sweeps`: the base config without the varied settings, the space, the budget, the objective, ASHA. */
export function sweepRequest(pipeline: string, fields: FormField[], values: FormValues, draft: SweepDraft, name: string): SweepRequest {
  const varied = variedNames(fields, draft);
  const config = toConfig(fields, values);
  for (const setting of varied) delete config[setting];
  const space: SweepRequest["space"] = {};
  for (const field of fields) {
    const range = draft.ranges[field.name];
    if (range && varied.includes(field.name)) space[field.name] = spaceRule(field, range);
  }
  const request: SweepRequest = {
    pipeline,
    config,
    space,
    search: draft.search,
    seed: Number(typedNumber(draft.seed)) || 0,
    max_trials: typedNumber(draft.trials),
    parallelism: typedNumber(draft.parallelism),
    objective: { metric: draft.metric.trim(), mode: draft.mode },
    early_stopping: draft.asha ? { asha: { grace_epochs: typedNumber(draft.grace), reduction_factor: typedNumber(draft.eta) } } : {},
  };
  if (name.trim()) request.name = name;
  return request;
}

/** The inputs of the sweep's own fields, by the request field the server names. */
export const SWEEP_FIELD_IDS: Record<string, string> = {
  search: "sweep-search",
  seed: "sweep-seed",
  max_trials: "sweep-trials",
  parallelism: "sweep-parallelism",
  objective: "sweep-metric",
  "objective.metric": "sweep-metric",
  "objective.mode": "sweep-mode",
  early_stopping: "sweep-asha",
  "early_stopping.asha": "sweep-asha",
  "early_stopping.asha.grace_epochs": "sweep-grace",
  "early_stopping.asha.reduction_factor": "sweep-eta",
};

export interface SweepProblems {
  /** The base config's, as the single-run form sorts them. */
  config: SortedProblems;
  /** By varied setting (`space.learning_rate`, `space.learning_rate.loguniform.0`). */
  space: Record<string, string[]>;
  /** By input id of the sweep's own fields (`max_trials` → `sweep-trials`). */
  sweep: Record<string, string[]>;
  /** The name's, without the field's own name in front. */
  name: string[];
}

function without(prefix: string, message: string): string {
  return message.startsWith(`${prefix}: `) ? message.slice(prefix.length + 2) : message;
}

/** The server's field errors, each next to the input it names; what names none goes above the form. */
export function sortSweepProblems(problems: FieldProblem[], fields: FormField[], varied: string[]): SweepProblems {
  const config: FieldProblem[] = [];
  const space: Record<string, string[]> = {};
  const sweep: Record<string, string[]> = {};
  const name: string[] = [];
  const general: FieldProblem[] = [];
  for (const problem of problems) {
    const path = problem.field.replace(/^spec\./, "");
    const message = problem.message || "is not valid";
    const setting = /^space\.([^.[]+)/.exec(path)?.[1];
    if (path === "name") name.push(without("name", message));
    else if (path === "config" || path.startsWith("config.")) config.push({ ...problem, field: path });
    else if (setting && varied.includes(setting)) {
      const own = without(path, without(`space.${setting}`, without(setting, message)));
      space[setting] = [...(space[setting] ?? []), own];
    } else if (SWEEP_FIELD_IDS[path]) {
      const id = SWEEP_FIELD_IDS[path] as string;
      sweep[id] = [...(sweep[id] ?? []), without(path, message)];
    } else general.push({ ...problem, field: path });
  }
  const sorted = sortProblems(config, fields);
  // What names no input (the pipeline, the space as a whole) is listed above the form.
  const loose = general.map((problem) => (problem.field ? `${problem.field}: ${problem.message || "is not valid"}` : problem.message));
  return { config: { byField: sorted.byField, general: [...sorted.general, ...loose] }, space, sweep, name };
}

export function hasSweepProblems(problems: SweepProblems): boolean {
  return (
    problems.name.length > 0 ||
    Object.keys(problems.config.byField).length > 0 ||
    problems.config.general.length > 0 ||
    Object.keys(problems.space).length > 0 ||
    Object.keys(problems.sweep).length > 0
  );
}
