/**
 * Sweeps over REST and their event socket, with the parsers that read the gateway's JSON
 * (`azuraforge.v1` Sweep, SweepTrial, SweepEvent in protos/azuraforge/v1/sweep.proto).
 *
 * Kept in one module, apart from types.ts, so that when the API's types are generated from the
 * .proto files this is the one place that changes for sweeps. The readers are wire.ts's: either
 * spelling of a field, 64-bit integers as strings, enums by name or number.
 */

import { ResilientSocket, type ConnectionHandlers, type Subscription } from "./events";
import { requestJson } from "./http";
import { parseStatus, type ExperimentStatus } from "./types";
import { asArray, asNumber, asObject, asString, asTime, field, type Json } from "./wire";

export const SWEEP_STATUSES = ["running", "succeeded", "failed", "cancelled"] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number] | "unspecified";

const SWEEP_STATUS_BY_NUMBER: SweepStatus[] = ["unspecified", ...SWEEP_STATUSES];

export function parseSweepStatus(value: unknown): SweepStatus {
  if (typeof value === "number") return SWEEP_STATUS_BY_NUMBER[value] ?? "unspecified";
  const name = asString(value).toLowerCase().replace("sweep_status_", "");
  return (SWEEP_STATUSES as readonly string[]).includes(name) ? (name as SweepStatus) : "unspecified";
}

/** How one setting is drawn: from a list, or from a range (`int` inclusive of both ends). */
export type SpaceKind = "choice" | "uniform" | "loguniform" | "int";
export const SPACE_KINDS: readonly SpaceKind[] = ["choice", "uniform", "loguniform", "int"];

export interface SpaceEntry {
  setting: string;
  kind: SpaceKind;
  /** A choice's values; empty for a range. */
  values: unknown[];
  /** A range's ends; 0 for a choice. */
  low: number;
  high: number;
}

/** A sweep's space in its own order (`{"lr": {"loguniform": [lo, hi]}, ...}`); unknown rules are left out. */
export function parseSpace(raw: unknown): SpaceEntry[] {
  const entries: SpaceEntry[] = [];
  for (const [setting, rule] of Object.entries(asObject(raw))) {
    const body = asObject(rule);
    const kind = SPACE_KINDS.find((name) => name in body);
    if (!kind) continue;
    const list = asArray(body[kind]);
    if (kind === "choice") entries.push({ setting, kind, values: list, low: 0, high: 0 });
    else entries.push({ setting, kind, values: [], low: asNumber(list[0]), high: asNumber(list[1]) });
  }
  return entries;
}

export interface Objective {
  metric: string;
  mode: "min" | "max";
}

export interface Asha {
  graceEpochs: number;
  reductionFactor: number;
}

export interface SweepSpec {
  pipeline: string;
  config: Json;
  space: SpaceEntry[];
  search: string;
  seed: number;
  maxTrials: number;
  parallelism: number;
  objective: Objective;
  /** Null when trials are never stopped early. */
  asha: Asha | null;
  name: string;
}

function parseSpec(raw: unknown): SweepSpec {
  const data = asObject(raw);
  const objective = asObject(field(data, "objective"));
  const early = field(asObject(field(data, "early_stopping")), "asha");
  const asha = early === undefined || early === null ? null : asObject(early);
  return {
    pipeline: asString(field(data, "pipeline")),
    config: asObject(field(data, "config")),
    space: parseSpace(field(data, "space")),
    search: asString(field(data, "search")) || "random",
    seed: asNumber(field(data, "seed")),
    maxTrials: asNumber(field(data, "max_trials")),
    parallelism: asNumber(field(data, "parallelism")),
    objective: {
      metric: asString(field(objective, "metric")),
      mode: asString(field(objective, "mode")) === "max" ? "max" : "min",
    },
    asha: asha
      ? {
          graceEpochs: asNumber(field(asha, "grace_epochs")),
          reductionFactor: asNumber(field(asha, "reduction_factor")),
        }
      : null,
    name: asString(field(data, "name")),
  };
}

export interface RungResult {
  /** Counting from 0, the first at `graceEpochs`. */
  rung: number;
  epoch: number;
  objective: number;
  /** False when the trial was stopped there. */
  promoted: boolean;
}

function parseRung(raw: unknown): RungResult {
  const data = asObject(raw);
  return {
    rung: asNumber(field(data, "rung")),
    epoch: asNumber(field(data, "epoch")),
    objective: asNumber(field(data, "objective")),
    promoted: field(data, "promoted") === true,
  };
}

export interface SweepTrial {
  /** Counting from 1, in the order trials were drawn. */
  number: number;
  experimentId: string;
  status: ExperimentStatus;
  settings: Json;
  epochsDone: number;
  /** At its latest epoch; null before its first. */
  objective: number | null;
  rungs: RungResult[];
  stopReason: string;
}

export function parseTrial(raw: unknown): SweepTrial {
  const data = asObject(raw);
  const objective = field(data, "objective");
  return {
    number: asNumber(field(data, "number")),
    experimentId: asString(field(data, "experiment_id")),
    status: parseStatus(field(data, "status")),
    settings: asObject(field(data, "settings")),
    epochsDone: asNumber(field(data, "epochs_done")),
    objective: objective === undefined || objective === null ? null : asNumber(objective),
    rungs: asArray(field(data, "rungs")).map(parseRung),
    stopReason: asString(field(data, "stop_reason")),
  };
}

/** A message field that protobuf leaves out (or sends as null) when unset. */
function optionalTrial(value: unknown): SweepTrial | null {
  return value === undefined || value === null ? null : parseTrial(value);
}

export interface Sweep {
  id: string;
  spec: SweepSpec;
  status: SweepStatus;
  owner: string;
  createdAt: Date | null;
  finishedAt: Date | null;
  trials: SweepTrial[];
  bestTrial: SweepTrial | null;
  epochsSpent: number;
  epochsBudget: number;
  errorMessage: string;
  lastSeq: number;
}

export function parseSweep(raw: unknown): Sweep {
  const data = asObject(raw);
  return {
    id: asString(field(data, "sweep_id")),
    spec: parseSpec(field(data, "spec")),
    status: parseSweepStatus(field(data, "status")),
    owner: asString(field(data, "owner")),
    createdAt: asTime(field(data, "created_at")),
    finishedAt: asTime(field(data, "finished_at")),
    trials: asArray(field(data, "trials")).map(parseTrial),
    bestTrial: optionalTrial(field(data, "best_trial")),
    epochsSpent: asNumber(field(data, "epochs_spent")),
    epochsBudget: asNumber(field(data, "epochs_budget")),
    errorMessage: asString(field(data, "error_message")),
    lastSeq: asNumber(field(data, "last_seq")),
  };
}

export interface AshaDecision {
  trial: number;
  experimentId: string;
  result: RungResult;
  trialsAtRung: number;
  cutoff: number;
  reason: string;
}

export type SweepEventKind =
  | { type: "trialChanged"; trial: SweepTrial }
  | { type: "decision"; decision: AshaDecision }
  | { type: "finished"; status: SweepStatus; bestTrial: SweepTrial | null; errorMessage: string }
  | { type: "unknown" };

export type SweepEvent = { sweepId: string; seq: number; emittedAt: Date | null } & SweepEventKind;

function parseSweepKind(data: Json): SweepEventKind {
  const changed = field(data, "trial_changed");
  if (changed !== undefined) return { type: "trialChanged", trial: parseTrial(field(asObject(changed), "trial")) };
  const decision = field(data, "decision");
  if (decision !== undefined) {
    const body = asObject(decision);
    return {
      type: "decision",
      decision: {
        trial: asNumber(field(body, "trial")),
        experimentId: asString(field(body, "experiment_id")),
        result: parseRung(field(body, "result")),
        trialsAtRung: asNumber(field(body, "trials_at_rung")),
        cutoff: asNumber(field(body, "cutoff")),
        reason: asString(field(body, "reason")),
      },
    };
  }
  const finished = field(data, "finished");
  if (finished !== undefined) {
    const body = asObject(finished);
    return {
      type: "finished",
      status: parseSweepStatus(field(body, "status")),
      bestTrial: optionalTrial(field(body, "best_trial")),
      errorMessage: asString(field(body, "error_message")),
    };
  }
  return { type: "unknown" };
}

export function parseSweepEvent(raw: unknown): SweepEvent {
  const data = asObject(raw);
  return {
    sweepId: asString(field(data, "sweep_id")),
    seq: asNumber(field(data, "seq")),
    emittedAt: asTime(field(data, "emitted_at")),
    ...parseSweepKind(data),
  };
}

export interface SweepPage {
  sweeps: Sweep[];
  nextPageToken: string;
}

/**
 * A sweep as `POST /api/v1/sweeps` takes it: the SweepSpec's JSON form, flat. A bad space or
 * budget is an `ApiError` whose details name the field (`space.learning_rate`, `max_trials`).
 */
export interface SweepRequest {
  pipeline: string;
  config: Record<string, unknown>;
  space: Record<string, Record<string, unknown[]>>;
  search: "random" | "grid";
  seed: number;
  max_trials: number | string;
  parallelism: number | string;
  objective: { metric: string; mode: string };
  early_stopping: { asha?: { grace_epochs: number | string; reduction_factor: number | string } };
  name?: string;
}

export async function submitSweep(request: SweepRequest): Promise<Sweep> {
  return parseSweep(await requestJson("sweeps", { method: "POST", json: request }));
}

export async function getSweep(id: string, signal?: AbortSignal): Promise<Sweep> {
  return parseSweep(await requestJson(`sweeps/${encodeURIComponent(id)}`, { signal }));
}

export async function listSweeps(pageToken = "", signal?: AbortSignal): Promise<SweepPage> {
  const data = asObject(await requestJson("sweeps", { signal, query: { page_token: pageToken || undefined } }));
  return {
    sweeps: asArray(field(data, "sweeps")).map(parseSweep),
    nextPageToken: asString(field(data, "next_page_token")),
  };
}

export async function cancelSweep(id: string): Promise<Sweep> {
  return parseSweep(await requestJson(`sweeps/${encodeURIComponent(id)}/cancel`, { method: "POST" }));
}

/**
 * Follow a sweep's events from after `after`, with the experiment socket's rules (api/events.ts):
 * each seq once and in order across reconnects, resumed with `?after=<last seq>`, over after
 * the `finished` event's clean close.
 */
export function watchSweep(
  sweepId: string,
  after: number,
  onEvent: (event: SweepEvent) => void,
  handlers: ConnectionHandlers = {},
): Subscription {
  let lastSeq = after;
  const socket = new ResilientSocket(
    {
      path: () => `sweeps/${encodeURIComponent(sweepId)}/events${lastSeq > 0 ? `?after=${lastSeq}` : ""}`,
      onMessage: (data) => {
        const event = parseSweepEvent(data);
        if (event.seq <= lastSeq) return;
        lastSeq = event.seq;
        onEvent(event);
      },
      finishesOnClose: true,
    },
    handlers,
  );
  return { stop: () => socket.stop(), retry: () => socket.retry() };
}
