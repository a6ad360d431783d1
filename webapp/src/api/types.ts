/**
 * The API's messages as the UI uses them, built from the generated `azuraforge.v1` messages
 * (src/gen, from protos/) in this one place.
 *
 * The UI's own types keep what makes the pages simple: camelCase names, Dates (null for unset),
 * numbers for 64-bit counters, and status words (`"running"`) instead of enum numbers. Each is
 * built field by field from its generated message, so a field renamed or retyped in a `.proto`
 * fails `tsc` here, and a new status or event kind fails it until the UI knows what to show.
 */

import {
  LoginResponseSchema,
  Role as WireRole,
  UserSchema,
  type User as UserMessage,
} from "../gen/azuraforge/v1/auth_pb";
import {
  ExperimentEventSchema,
  type ExperimentEvent as ExperimentEventMessage,
} from "../gen/azuraforge/v1/events_pb";
import {
  ExperimentSchema,
  ExperimentStatus as Status,
  ExperimentStatusChangedSchema,
  type Artifact as ArtifactMessage,
  type Attempt as AttemptMessage,
  type Experiment as ExperimentMessage,
  type ExperimentStatusChanged,
  type Scores,
} from "../gen/azuraforge/v1/experiment_pb";
import {
  ListExperimentsResponseSchema,
  ListPipelinesResponseSchema,
} from "../gen/azuraforge/v1/scheduler_pb";
import type { Json } from "./json";
import { dateOf, numberOf, readMessage } from "./messages";

export const STATUSES = ["pending", "running", "succeeded", "failed", "cancelled", "stopped_early"] as const;
export type ExperimentStatus = (typeof STATUSES)[number] | "unspecified";

/** Every status of the .proto's enum, so a new one fails `tsc` until the UI has a word for it. */
const STATUS_WORDS: Record<Status, ExperimentStatus> = {
  [Status.UNSPECIFIED]: "unspecified",
  [Status.PENDING]: "pending",
  [Status.RUNNING]: "running",
  [Status.SUCCEEDED]: "succeeded",
  [Status.FAILED]: "failed",
  [Status.CANCELLED]: "cancelled",
  [Status.STOPPED_EARLY]: "stopped_early",
};

/**
 * The word for `status` (an experiment's, or a sweep trial's); a number this build does not know,
 * a newer server's, is unspecified.
 */
export function statusWord(status: Status): ExperimentStatus {
  return STATUS_WORDS[status] ?? "unspecified";
}

export function isFinished(status: ExperimentStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled" || status === "stopped_early";
}

export type Role = "admin" | "user";

export interface User {
  id: string;
  username: string;
  role: Role;
}

function roleWord(role: WireRole): Role {
  return role === WireRole.ADMIN ? "admin" : "user";
}

function userFrom(message: UserMessage): User {
  return { id: message.userId, username: message.username, role: roleWord(message.role) };
}

export function parseUser(raw: unknown): User {
  return userFrom(readMessage(UserSchema, raw));
}

/** A log-in's answer: the token, how long it lasts and, from gateways that say, whose it is. */
export interface Login {
  token: string;
  /** Seconds from now; 0 when the server did not say. */
  expiresInSeconds: number;
  user: User | null;
}

export function parseLogin(raw: unknown): Login {
  const message = readMessage(LoginResponseSchema, raw);
  return {
    token: message.accessToken,
    expiresInSeconds: message.expiresIn,
    user: message.user ? userFrom(message.user) : null,
  };
}

export interface Artifact {
  name: string;
  sizeBytes: number;
  contentType: string;
  sha256: string;
}

function artifactFrom(message: ArtifactMessage): Artifact {
  return {
    name: message.name,
    sizeBytes: numberOf(message.sizeBytes),
    contentType: message.contentType,
    sha256: message.sha256,
  };
}

/** One run of an experiment on one trainer; an experiment resumed after a loss has several. */
export interface Attempt {
  /** Counting from 1. */
  number: number;
  trainerId: string;
  /** Epochs the checkpoint it started from held; 0 for a start from scratch. */
  fromEpoch: number;
  startedAt: Date | null;
  /** Null while it runs. */
  endedAt: Date | null;
  /** Why it ended when the run was lost; empty while it runs and for the attempt that ended the experiment. */
  lostReason: string;
}

function attemptFrom(message: AttemptMessage): Attempt {
  return {
    number: message.number,
    trainerId: message.trainerId,
    fromEpoch: message.fromEpoch,
    startedAt: dateOf(message.startedAt),
    endedAt: dateOf(message.endedAt),
    lostReason: message.lostReason,
  };
}

/** A map of `Scores` messages as name → metrics. */
function scoresFrom(scores: Record<string, Scores>): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const [name, value] of Object.entries(scores)) result[name] = { ...value.values };
  return result;
}

export interface Experiment {
  id: string;
  /** What its owner calls it; empty when unnamed. */
  name: string;
  pipeline: string;
  config: Json;
  status: ExperimentStatus;
  createdAt: Date | null;
  updatedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  owner: string;
  trainerId: string;
  errorMessage: string;
  epochsDone: number;
  totalEpochs: number;
  /** The latest epoch's metrics while running; the final (test) metrics when done. */
  metrics: Record<string, number>;
  /** Once finished: each baseline's test metrics, by the baseline's name. */
  baselines: Record<string, Record<string, number>>;
  /** Once finished: each reference model's test metrics, by its name. */
  references: Record<string, Record<string, number>>;
  artifacts: Artifact[];
  lastSeq: number;
  /** How many times a lost run is placed again before the experiment fails; 0 when not known. */
  maxRestarts: number;
  attempts: Attempt[];
  /** Epochs held by the latest stored checkpoint; 0 for none. */
  checkpointEpoch: number;
  /** The sweep it is a trial of, and its number there; "" and 0 otherwise. */
  sweepId: string;
  sweepTrial: number;
}

function experimentFrom(message: ExperimentMessage): Experiment {
  return {
    id: message.experimentId,
    name: message.name,
    pipeline: message.pipeline,
    config: message.config ?? {},
    status: statusWord(message.status),
    createdAt: dateOf(message.createdAt),
    updatedAt: dateOf(message.updatedAt),
    startedAt: dateOf(message.startedAt),
    finishedAt: dateOf(message.finishedAt),
    owner: message.owner,
    trainerId: message.trainerId,
    errorMessage: message.errorMessage,
    epochsDone: message.epochsDone,
    totalEpochs: message.totalEpochs,
    metrics: { ...message.metrics },
    baselines: scoresFrom(message.baselines),
    references: scoresFrom(message.references),
    artifacts: message.artifacts.map(artifactFrom),
    lastSeq: numberOf(message.lastSeq),
    maxRestarts: message.maxRestarts,
    attempts: message.attempts.map(attemptFrom),
    checkpointEpoch: message.checkpointEpoch,
    sweepId: message.sweepId,
    sweepTrial: message.sweepTrial,
  };
}

export function parseExperiment(raw: unknown): Experiment {
  return experimentFrom(readMessage(ExperimentSchema, raw));
}

export interface ExperimentPage {
  experiments: Experiment[];
  nextPageToken: string;
  totalSize: number;
}

export function parseExperimentPage(raw: unknown): ExperimentPage {
  const message = readMessage(ListExperimentsResponseSchema, raw);
  return {
    experiments: message.experiments.map(experimentFrom),
    nextPageToken: message.nextPageToken,
    totalSize: message.totalSize,
  };
}

/** The subset of JSON Schema (draft 2020-12) that pipeline configs use. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  /** The form's layout (forge_learner/config.py): the properties in declaration order, */
  "x-order"?: string[];
  /** the groups in the order shown, */
  "x-groups"?: string[];
  /** a property's group, */
  "x-group"?: string;
  /** and whether the form folds it under "Advanced". */
  "x-advanced"?: boolean;
}

export interface Pipeline {
  name: string;
  summary: string;
  configSchema: JsonSchema;
}

export function parsePipelines(raw: unknown): Pipeline[] {
  return readMessage(ListPipelinesResponseSchema, raw).pipelines.map((info) => ({
    name: info.name,
    summary: info.summary,
    // A JSON Schema is free-form JSON to protobuf (a Struct); the form reads the keywords above.
    configSchema: (info.configSchema ?? {}) as JsonSchema,
  }));
}

export type EventKind =
  | {
      type: "started";
      pipeline: string;
      totalEpochs: number;
      trainerId: string;
      stepsPerEpoch: number;
      initialEpoch: number;
    }
  | {
      type: "epochEnded";
      epoch: number;
      totalEpochs: number;
      metrics: Record<string, number>;
      elapsedSeconds: number;
    }
  | { type: "batchProgress"; epoch: number; batch: number; totalBatches: number; loss: number }
  | { type: "log"; level: string; logger: string; message: string }
  | { type: "artifactStored"; artifact: Artifact }
  | {
      type: "finished";
      status: ExperimentStatus;
      errorMessage: string;
      metrics: Record<string, number>;
      baselines: Record<string, Record<string, number>>;
      references: Record<string, Record<string, number>>;
      /** The run's files are still coming: `filesStored` ends the log, not this event. */
      filesFollow: boolean;
    }
  | {
      /** The last event of a run whose files followed its ending (`filesFollow`). */
      type: "filesStored";
      count: number;
      /** Set when some of the run's files could not be stored, and why. */
      errorMessage: string;
    }
  | {
      /** The run was lost and placed again; epochs past `fromEpoch` will be trained again. */
      type: "resumed";
      trainerId: string;
      /** Epochs the checkpoint holds; 0 when training starts over. */
      fromEpoch: number;
      /** Counting the first run as 1. */
      attempt: number;
      /** Why the previous attempt ended. */
      reason: string;
      previousTrainerId: string;
    }
  | { type: "unknown" };

export type ExperimentEvent = {
  experimentId: string;
  seq: number;
  emittedAt: Date | null;
} & EventKind;

export type ResumedEvent = Extract<ExperimentEvent, { type: "resumed" }>;

/** What happened; an event of a kind this build does not know (a newer server's) is "unknown". */
function kindFrom(kind: ExperimentEventMessage["kind"]): EventKind {
  switch (kind.case) {
    case "experimentStarted": {
      const { pipeline, totalEpochs, trainerId, stepsPerEpoch, initialEpoch } = kind.value;
      return { type: "started", pipeline, totalEpochs, trainerId, stepsPerEpoch, initialEpoch };
    }
    case "epochEnded": {
      const { epoch, totalEpochs, metrics, elapsedSeconds } = kind.value;
      return { type: "epochEnded", epoch, totalEpochs, metrics: { ...metrics }, elapsedSeconds };
    }
    case "batchProgress": {
      const { epoch, batch, totalBatches, loss } = kind.value;
      return { type: "batchProgress", epoch, batch, totalBatches, loss };
    }
    case "logLine": {
      const { level, logger, message } = kind.value;
      return { type: "log", level, logger, message };
    }
    case "artifactStored": {
      const artifact = kind.value.artifact;
      return {
        type: "artifactStored",
        artifact: artifact ? artifactFrom(artifact) : { name: "", sizeBytes: 0, contentType: "", sha256: "" },
      };
    }
    case "experimentFinished": {
      const { status, errorMessage, metrics, baselines, references, filesFollow } = kind.value;
      return {
        type: "finished",
        status: statusWord(status),
        errorMessage,
        metrics: { ...metrics },
        baselines: scoresFrom(baselines),
        references: scoresFrom(references),
        filesFollow,
      };
    }
    case "filesStored": {
      const { count, errorMessage } = kind.value;
      return { type: "filesStored", count, errorMessage };
    }
    case "experimentResumed": {
      const { trainerId, fromEpoch, attempt, reason, previousTrainerId } = kind.value;
      return { type: "resumed", trainerId, fromEpoch, attempt, reason, previousTrainerId };
    }
    case undefined:
      return { type: "unknown" };
    default:
      return unhandled(kind);
  }
}

/** Reached only when the `.proto` has a kind of event that `kindFrom` has no case for. */
function unhandled(kind: never): EventKind {
  throw new Error(`no view of the event kind ${JSON.stringify(kind)}`);
}

function eventFrom(message: ExperimentEventMessage): ExperimentEvent {
  return {
    experimentId: message.experimentId,
    seq: numberOf(message.seq),
    emittedAt: dateOf(message.emittedAt),
    ...kindFrom(message.kind),
  };
}

export function parseEvent(raw: unknown): ExperimentEvent {
  return eventFrom(readMessage(ExperimentEventSchema, raw));
}

export interface StatusChange {
  experimentId: string;
  name: string;
  pipeline: string;
  owner: string;
  status: ExperimentStatus;
  previousStatus: ExperimentStatus;
  changedAt: Date | null;
  errorMessage: string;
}

function statusChangeFrom(message: ExperimentStatusChanged): StatusChange {
  return {
    experimentId: message.experimentId,
    name: message.name,
    pipeline: message.pipeline,
    owner: message.owner,
    status: statusWord(message.status),
    previousStatus: statusWord(message.previousStatus),
    changedAt: dateOf(message.changedAt),
    errorMessage: message.errorMessage,
  };
}

export function parseStatusChange(raw: unknown): StatusChange {
  return statusChangeFrom(readMessage(ExperimentStatusChangedSchema, raw));
}

/** One broken rule of a rejected request, e.g. `{field: "config.epochs", message: ...}`. */
export interface FieldProblem {
  field: string;
  rule: string;
  message: string;
}
