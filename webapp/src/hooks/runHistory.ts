/**
 * What an experiment's events add up to: its curves, progress, log, artifacts and ending.
 *
 * `applyEvent` is a pure reducer, so the live page, the compare page and the tests all fold
 * the same events the same way.
 *
 * A run that was lost and resumed (ExperimentResumed) trains the epochs past its checkpoint
 * again. Its curves keep one point per epoch, the latest: the resume drops the points past
 * `fromEpoch` at once (those epochs are void, whether or not they are trained again), and an
 * EpochEnded replaces any point with its epoch. Events are applied once each, by `seq`, so a
 * replayed resume cannot drop the epochs trained after it.
 *
 * A run's ending (ExperimentFinished) may come before its files: then it says `filesFollow`,
 * its files arrive as ArtifactStored events after it, and FilesStored is the log's last event.
 * The ending is shown at once; `filesPending` says the report and files are still on their way.
 */

import type { Artifact, ExperimentEvent, ExperimentStatus, ResumedEvent } from "../api/types";
import { resumeText } from "../format";

export interface EpochPoint {
  epoch: number;
  metrics: Record<string, number>;
  elapsedSeconds: number;
}

export interface LogEntry {
  seq: number;
  time: Date | null;
  level: string;
  logger: string;
  message: string;
}

export interface Progress {
  epoch: number;
  batch: number;
  totalBatches: number;
  loss: number;
}

export interface RunHistory {
  lastSeq: number;
  totalEpochs: number;
  stepsPerEpoch: number;
  /** Epochs done when the latest attempt started: 0, or its checkpoint's after a resume. */
  initialEpoch: number;
  /** When the latest attempt started (server clock), for the time-left estimate. */
  startedAt: Date | null;
  /** One point per epoch, the latest, in epoch order. */
  epochs: EpochPoint[];
  progress: Progress | null;
  /** When the latest event was emitted (server clock), for the time-left estimate. */
  latestAt: Date | null;
  logs: LogEntry[];
  artifacts: Artifact[];
  /** Each time the run was lost and placed again, the first first. */
  resumes: ResumedEvent[];
  finished: {
    status: ExperimentStatus;
    errorMessage: string;
    metrics: Record<string, number>;
    baselines: Record<string, Record<string, number>>;
    references: Record<string, Record<string, number>>;
  } | null;
  /** The run ended and its files are still coming (its ending said `filesFollow`). */
  filesPending: boolean;
  /** Why some of the run's files are missing, when its `filesStored` said. */
  filesError: string;
}

/** Lines kept in memory; older ones are dropped so a chatty run cannot slow the page down. */
export const MAX_LOG_LINES = 2000;

export const EMPTY_HISTORY: RunHistory = {
  lastSeq: 0,
  totalEpochs: 0,
  stepsPerEpoch: 0,
  initialEpoch: 0,
  startedAt: null,
  epochs: [],
  progress: null,
  latestAt: null,
  logs: [],
  artifacts: [],
  resumes: [],
  finished: null,
  filesPending: false,
  filesError: "",
};

function appendLog(logs: LogEntry[], entry: LogEntry): LogEntry[] {
  const next = [...logs, entry];
  return next.length > MAX_LOG_LINES ? next.slice(-MAX_LOG_LINES) : next;
}

export function applyEvent(history: RunHistory, event: ExperimentEvent): RunHistory {
  if (event.seq !== 0 && event.seq <= history.lastSeq) return history;
  const next: RunHistory = {
    ...history,
    lastSeq: event.seq || history.lastSeq,
    latestAt: event.emittedAt ?? history.latestAt,
  };
  switch (event.type) {
    case "started":
      return {
        ...next,
        totalEpochs: event.totalEpochs,
        stepsPerEpoch: event.stepsPerEpoch,
        initialEpoch: event.initialEpoch,
        startedAt: event.emittedAt ?? history.startedAt,
      };
    case "epochEnded": {
      const epochs = history.epochs.filter((point) => point.epoch !== event.epoch);
      epochs.push({ epoch: event.epoch, metrics: event.metrics, elapsedSeconds: event.elapsedSeconds });
      epochs.sort((a, b) => a.epoch - b.epoch);
      return { ...next, epochs, totalEpochs: event.totalEpochs || history.totalEpochs };
    }
    case "batchProgress":
      return {
        ...next,
        progress: {
          epoch: event.epoch,
          batch: event.batch,
          totalBatches: event.totalBatches,
          loss: event.loss,
        },
      };
    case "log": {
      const entry = {
        seq: event.seq,
        time: event.emittedAt,
        level: event.level,
        logger: event.logger,
        message: event.message,
      };
      return { ...next, logs: appendLog(history.logs, entry) };
    }
    case "resumed": {
      const entry = {
        seq: event.seq,
        time: event.emittedAt,
        level: "WARNING",
        logger: "scheduler",
        message: resumeText(event, null),
      };
      return {
        ...next,
        epochs: history.epochs.filter((point) => point.epoch <= event.fromEpoch),
        // The batch progress was of an epoch that will be trained again; the pace starts over
        // with the new attempt's ExperimentStarted.
        progress: null,
        initialEpoch: event.fromEpoch,
        logs: appendLog(history.logs, entry),
        resumes: [...history.resumes, event],
      };
    }
    case "artifactStored":
      return {
        ...next,
        artifacts: [...history.artifacts.filter((a) => a.name !== event.artifact.name), event.artifact],
      };
    case "finished":
      return {
        ...next,
        finished: {
          status: event.status,
          errorMessage: event.errorMessage,
          metrics: event.metrics,
          baselines: event.baselines,
          references: event.references,
        },
        filesPending: event.filesFollow,
      };
    case "filesStored":
      return { ...next, filesPending: false, filesError: event.errorMessage };
    default:
      return next;
  }
}

/**
 * The resumes where the curves pass from one attempt to the next: each attempt's points start
 * after its `fromEpoch`. A resume that a later one went back before (or to the same epoch) left
 * no point of its own, and a start over (`fromEpoch` 0) has no earlier attempt on the curve.
 */
export function resumesOnCurve(resumes: ResumedEvent[]): ResumedEvent[] {
  return resumes.filter(
    (resume, index) => resume.fromEpoch > 0 && resumes.slice(index + 1).every((later) => later.fromEpoch > resume.fromEpoch),
  );
}

/** Metric names that appear in any epoch, `loss` and `val_loss` first. */
export function metricNames(epochs: EpochPoint[]): string[] {
  const names = new Set<string>();
  for (const point of epochs) for (const name of Object.keys(point.metrics)) names.add(name);
  const rank = (name: string): number =>
    name === "loss" ? 0 : name === "val_loss" ? 1 : name.includes("learning_rate") ? 3 : 2;
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * The metrics grouped for charts: each training metric with its `val_` twin (`loss` with
 * `val_loss`, `mae` with `val_mae`), a lone `val_` metric on its own, `learning_rate` last.
 */
export function metricGroups(epochs: EpochPoint[]): { title: string; names: string[] }[] {
  const names = metricNames(epochs);
  const groups = new Map<string, string[]>();
  for (const name of names) {
    const base = name.startsWith("val_") ? name.slice(4) : name;
    groups.set(base, [...(groups.get(base) ?? []), name]);
  }
  return [...groups.entries()].map(([base, members]) => ({
    title: base,
    names: members.sort((a, b) => Number(a.startsWith("val_")) - Number(b.startsWith("val_"))),
  }));
}

export interface ProgressSummary {
  /** 0 to 1 over the whole run. */
  fraction: number;
  epoch: number;
  totalEpochs: number;
  batch: number;
  totalBatches: number;
  /** Seconds left, estimated from the pace so far; null until there is a pace. */
  secondsLeft: number | null;
}

/** Where the run is and how long it has left, from its events' own (server) times. */
export function summarizeProgress(history: RunHistory): ProgressSummary | null {
  const { totalEpochs } = history;
  if (totalEpochs <= 0) return null;
  const done = Math.max(history.initialEpoch, ...history.epochs.map((p) => p.epoch));
  const progress = history.progress;
  const inEpoch =
    progress && progress.epoch === done + 1 && progress.totalBatches > 0
      ? Math.min(1, progress.batch / progress.totalBatches)
      : 0;
  const finished = history.finished?.status === "succeeded";
  const fraction = finished ? 1 : Math.min(1, (done + inEpoch) / totalEpochs);
  const runFraction = (done - history.initialEpoch + inEpoch) / Math.max(1, totalEpochs - history.initialEpoch);
  let secondsLeft: number | null = null;
  if (!history.finished && history.startedAt && history.latestAt && runFraction > 0) {
    const elapsed = (history.latestAt.getTime() - history.startedAt.getTime()) / 1000;
    if (elapsed > 0) secondsLeft = Math.max(0, (elapsed / runFraction) * (1 - runFraction));
  }
  return {
    fraction,
    epoch: history.finished || done >= totalEpochs ? done : done + 1,
    totalEpochs,
    batch: progress && progress.epoch === done + 1 ? progress.batch : 0,
    totalBatches: progress?.totalBatches || history.stepsPerEpoch,
    secondsLeft,
  };
}
