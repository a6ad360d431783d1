/**
 * Sweeps over REST and their event socket, read through the messages generated from
 * protos/azuraforge/v1/sweep.proto (Sweep, SweepTrial, SweepEvent) into the UI's own types, as
 * types.ts does for experiments: camelCase, Dates, numbers for 64-bit counters, status words,
 * the space as a list of rules. Kept in its own module so that sweeps stay one concept.
 */

import type { JsonObject } from "@bufbuild/protobuf";
import {
  ListSweepsResponseSchema,
  SweepEventSchema,
  SweepSchema,
  SweepStatus as WireSweepStatus,
  type RungResult as RungResultMessage,
  type Sweep as SweepMessage,
  type SweepEvent as SweepEventMessage,
  type SweepSpec as SweepSpecMessage,
  type SweepTrial as SweepTrialMessage,
} from "../gen/azuraforge/v1/sweep_pb";
import { ResilientSocket, type ConnectionHandlers, type Subscription } from "./events";
import { requestJson } from "./http";
import { asArray, asNumber, asObject, type Json } from "./json";
import { dateOf, numberOf, readMessage } from "./messages";
import { statusWord, type ExperimentStatus } from "./types";

export type SweepStatus = "running" | "succeeded" | "failed" | "cancelled" | "unspecified";

/** Every status of the .proto's enum, so a new one fails `tsc` until the UI has a word for it. */
const SWEEP_STATUS_WORDS: Record<WireSweepStatus, SweepStatus> = {
  [WireSweepStatus.UNSPECIFIED]: "unspecified",
  [WireSweepStatus.RUNNING]: "running",
  [WireSweepStatus.SUCCEEDED]: "succeeded",
  [WireSweepStatus.FAILED]: "failed",
  [WireSweepStatus.CANCELLED]: "cancelled",
};

function sweepStatusWord(status: WireSweepStatus): SweepStatus {
  return SWEEP_STATUS_WORDS[status] ?? "unspecified";
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

/**
 * A sweep's space (a free-form Struct to protobuf: `{"lr": {"loguniform": [lo, hi]}, ...}`) in
 * its own order; a rule this build does not know is left out.
 */
export function parseSpace(raw: JsonObject | undefined): SpaceEntry[] {
  const entries: SpaceEntry[] = [];
  for (const [setting, rule] of Object.entries(raw ?? {})) {
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

function specFrom(message: SweepSpecMessage | undefined): SweepSpec {
  const asha = message?.earlyStopping?.asha;
  return {
    pipeline: message?.pipeline ?? "",
    config: message?.config ?? {},
    space: parseSpace(message?.space),
    search: message?.search || "random",
    seed: numberOf(message?.seed ?? 0n),
    maxTrials: message?.maxTrials ?? 0,
    parallelism: message?.parallelism ?? 0,
    objective: { metric: message?.objective?.metric ?? "", mode: message?.objective?.mode === "max" ? "max" : "min" },
    asha: asha ? { graceEpochs: asha.graceEpochs, reductionFactor: asha.reductionFactor } : null,
    name: message?.name ?? "",
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

function rungFrom(message: RungResultMessage | undefined): RungResult {
  return {
    rung: message?.rung ?? 0,
    epoch: message?.epoch ?? 0,
    objective: message?.objective ?? 0,
    promoted: message?.promoted ?? false,
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

function trialFrom(message: SweepTrialMessage): SweepTrial {
  return {
    number: message.number,
    experimentId: message.experimentId,
    status: statusWord(message.status),
    settings: message.settings ?? {},
    epochsDone: message.epochsDone,
    objective: message.objective ?? null,
    rungs: message.rungs.map(rungFrom),
    stopReason: message.stopReason,
  };
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

function sweepFrom(message: SweepMessage): Sweep {
  return {
    id: message.sweepId,
    spec: specFrom(message.spec),
    status: sweepStatusWord(message.status),
    owner: message.owner,
    createdAt: dateOf(message.createdAt),
    finishedAt: dateOf(message.finishedAt),
    trials: message.trials.map(trialFrom),
    bestTrial: message.bestTrial ? trialFrom(message.bestTrial) : null,
    epochsSpent: message.epochsSpent,
    epochsBudget: message.epochsBudget,
    errorMessage: message.errorMessage,
    lastSeq: numberOf(message.lastSeq),
  };
}

export function parseSweep(raw: unknown): Sweep {
  return sweepFrom(readMessage(SweepSchema, raw));
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

/** What happened; an event of a kind this build does not know (a newer server's) is "unknown". */
function sweepKindFrom(kind: SweepEventMessage["kind"]): SweepEventKind {
  switch (kind.case) {
    case "trialChanged":
      return kind.value.trial ? { type: "trialChanged", trial: trialFrom(kind.value.trial) } : { type: "unknown" };
    case "decision": {
      const { trial, experimentId, result, trialsAtRung, cutoff, reason } = kind.value;
      return { type: "decision", decision: { trial, experimentId, result: rungFrom(result), trialsAtRung, cutoff, reason } };
    }
    case "finished": {
      const { status, bestTrial, errorMessage } = kind.value;
      return { type: "finished", status: sweepStatusWord(status), bestTrial: bestTrial ? trialFrom(bestTrial) : null, errorMessage };
    }
    case undefined:
      return { type: "unknown" };
    default:
      return unhandled(kind);
  }
}

/** Reached only when the `.proto` has a kind of sweep event that `sweepKindFrom` has no case for. */
function unhandled(kind: never): SweepEventKind {
  throw new Error(`no view of the sweep event kind ${JSON.stringify(kind)}`);
}

export function parseSweepEvent(raw: unknown): SweepEvent {
  const message = readMessage(SweepEventSchema, raw);
  return {
    sweepId: message.sweepId,
    seq: numberOf(message.seq),
    emittedAt: dateOf(message.emittedAt),
    ...sweepKindFrom(message.kind),
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
  const message = readMessage(
    ListSweepsResponseSchema,
    await requestJson("sweeps", { signal, query: { page_token: pageToken || undefined } }),
  );
  return { sweeps: message.sweeps.map(sweepFrom), nextPageToken: message.nextPageToken };
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
