/**
 * The API's messages as the UI uses them, with the parsers that build them from the wire
 * (`azuraforge.v1` in protos/: Experiment, ExperimentEvent, ExperimentStatusChanged, ...).
 */

import {
  asArray,
  asNumber,
  asNumberMap,
  asObject,
  asScoresMap,
  asString,
  asTime,
  field,
  type Json,
} from "./wire";

export const STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"] as const;
export type ExperimentStatus = (typeof STATUSES)[number] | "unspecified";

const STATUS_PREFIX = "EXPERIMENT_STATUS_";
const STATUS_BY_NUMBER: ExperimentStatus[] = ["unspecified", ...STATUSES];

export function parseStatus(value: unknown): ExperimentStatus {
  if (typeof value === "number") return STATUS_BY_NUMBER[value] ?? "unspecified";
  const name = asString(value).toLowerCase().replace(STATUS_PREFIX.toLowerCase(), "");
  return (STATUSES as readonly string[]).includes(name) ? (name as ExperimentStatus) : "unspecified";
}

export function isFinished(status: ExperimentStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

export type Role = "admin" | "user";

export interface User {
  id: string;
  username: string;
  role: Role;
}

export function parseUser(raw: unknown): User {
  const data = asObject(raw);
  const role = field(data, "role");
  return {
    id: asString(field(data, "user_id")),
    username: asString(field(data, "username")),
    role: role === "ROLE_ADMIN" || role === 2 ? "admin" : "user",
  };
}

export interface Artifact {
  name: string;
  sizeBytes: number;
  contentType: string;
  sha256: string;
}

export function parseArtifact(raw: unknown): Artifact {
  const data = asObject(raw);
  return {
    name: asString(field(data, "name")),
    sizeBytes: asNumber(field(data, "size_bytes")),
    contentType: asString(field(data, "content_type")),
    sha256: asString(field(data, "sha256")),
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

export function parseAttempt(raw: unknown): Attempt {
  const data = asObject(raw);
  return {
    number: asNumber(field(data, "number")),
    trainerId: asString(field(data, "trainer_id")),
    fromEpoch: asNumber(field(data, "from_epoch")),
    startedAt: asTime(field(data, "started_at")),
    endedAt: asTime(field(data, "ended_at")),
    lostReason: asString(field(data, "lost_reason")),
  };
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
}

export function parseExperiment(raw: unknown): Experiment {
  const data = asObject(raw);
  return {
    id: asString(field(data, "experiment_id")),
    name: asString(field(data, "name")),
    pipeline: asString(field(data, "pipeline")),
    config: asObject(field(data, "config")),
    status: parseStatus(field(data, "status")),
    createdAt: asTime(field(data, "created_at")),
    updatedAt: asTime(field(data, "updated_at")),
    startedAt: asTime(field(data, "started_at")),
    finishedAt: asTime(field(data, "finished_at")),
    owner: asString(field(data, "owner")),
    trainerId: asString(field(data, "trainer_id")),
    errorMessage: asString(field(data, "error_message")),
    epochsDone: asNumber(field(data, "epochs_done")),
    totalEpochs: asNumber(field(data, "total_epochs")),
    metrics: asNumberMap(field(data, "metrics")),
    baselines: asScoresMap(field(data, "baselines")),
    references: asScoresMap(field(data, "references")),
    artifacts: asArray(field(data, "artifacts")).map(parseArtifact),
    lastSeq: asNumber(field(data, "last_seq")),
    maxRestarts: asNumber(field(data, "max_restarts")),
    attempts: asArray(field(data, "attempts")).map(parseAttempt),
    checkpointEpoch: asNumber(field(data, "checkpoint_epoch")),
  };
}

export interface ExperimentPage {
  experiments: Experiment[];
  nextPageToken: string;
  totalSize: number;
}

export function parseExperimentPage(raw: unknown): ExperimentPage {
  const data = asObject(raw);
  return {
    experiments: asArray(field(data, "experiments")).map(parseExperiment),
    nextPageToken: asString(field(data, "next_page_token")),
    totalSize: asNumber(field(data, "total_size")),
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
  return asArray(field(asObject(raw), "pipelines")).map((item) => {
    const data = asObject(item);
    return {
      name: asString(field(data, "name")),
      summary: asString(field(data, "summary")),
      configSchema: asObject(field(data, "config_schema")) as JsonSchema,
    };
  });
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

function parseKind(data: Json): EventKind {
  const started = field(data, "experiment_started");
  if (started !== undefined) {
    const body = asObject(started);
    return {
      type: "started",
      pipeline: asString(field(body, "pipeline")),
      totalEpochs: asNumber(field(body, "total_epochs")),
      trainerId: asString(field(body, "trainer_id")),
      stepsPerEpoch: asNumber(field(body, "steps_per_epoch")),
      initialEpoch: asNumber(field(body, "initial_epoch")),
    };
  }
  const epoch = field(data, "epoch_ended");
  if (epoch !== undefined) {
    const body = asObject(epoch);
    return {
      type: "epochEnded",
      epoch: asNumber(field(body, "epoch")),
      totalEpochs: asNumber(field(body, "total_epochs")),
      metrics: asNumberMap(field(body, "metrics")),
      elapsedSeconds: asNumber(field(body, "elapsed_seconds")),
    };
  }
  const batch = field(data, "batch_progress");
  if (batch !== undefined) {
    const body = asObject(batch);
    return {
      type: "batchProgress",
      epoch: asNumber(field(body, "epoch")),
      batch: asNumber(field(body, "batch")),
      totalBatches: asNumber(field(body, "total_batches")),
      loss: asNumber(field(body, "loss")),
    };
  }
  const log = field(data, "log_line");
  if (log !== undefined) {
    const body = asObject(log);
    return {
      type: "log",
      level: asString(field(body, "level")),
      logger: asString(field(body, "logger")),
      message: asString(field(body, "message")),
    };
  }
  const stored = field(data, "artifact_stored");
  if (stored !== undefined) {
    return { type: "artifactStored", artifact: parseArtifact(field(asObject(stored), "artifact")) };
  }
  const finished = field(data, "experiment_finished");
  if (finished !== undefined) {
    const body = asObject(finished);
    return {
      type: "finished",
      status: parseStatus(field(body, "status")),
      errorMessage: asString(field(body, "error_message")),
      metrics: asNumberMap(field(body, "metrics")),
      baselines: asScoresMap(field(body, "baselines")),
      references: asScoresMap(field(body, "references")),
    };
  }
  const resumed = field(data, "experiment_resumed");
  if (resumed !== undefined) {
    const body = asObject(resumed);
    return {
      type: "resumed",
      trainerId: asString(field(body, "trainer_id")),
      fromEpoch: asNumber(field(body, "from_epoch")),
      attempt: asNumber(field(body, "attempt")),
      reason: asString(field(body, "reason")),
      previousTrainerId: asString(field(body, "previous_trainer_id")),
    };
  }
  return { type: "unknown" };
}

export function parseEvent(raw: unknown): ExperimentEvent {
  const data = asObject(raw);
  return {
    experimentId: asString(field(data, "experiment_id")),
    seq: asNumber(field(data, "seq")),
    emittedAt: asTime(field(data, "emitted_at")),
    ...parseKind(data),
  };
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

export function parseStatusChange(raw: unknown): StatusChange {
  const data = asObject(raw);
  return {
    experimentId: asString(field(data, "experiment_id")),
    name: asString(field(data, "name")),
    pipeline: asString(field(data, "pipeline")),
    owner: asString(field(data, "owner")),
    status: parseStatus(field(data, "status")),
    previousStatus: parseStatus(field(data, "previous_status")),
    changedAt: asTime(field(data, "changed_at")),
    errorMessage: asString(field(data, "error_message")),
  };
}

/** One broken rule of a rejected request, e.g. `{field: "config.epochs", message: ...}`. */
export interface FieldProblem {
  field: string;
  rule: string;
  message: string;
}
