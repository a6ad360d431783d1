/** How numbers, times and names are written on screen, in one place. */

import type { Experiment, ExperimentStatus, ResumedEvent } from "./api/types";

export const STATUS_LABELS: Record<ExperimentStatus, string> = {
  pending: "Pending",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  stopped_early: "Stopped early",
  unspecified: "Unknown",
};

/** `1 h 02 min`, `3 min 05 s`, `42 s`, `0.8 s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  if (hours > 0) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes > 0) return `${minutes} min ${String(secs).padStart(2, "0")} s`;
  return `${secs} s`;
}

/** How long a run took, or has been running for by `now`; null before it started. */
export function runSeconds(experiment: Experiment, now: number): number | null {
  if (!experiment.startedAt) return null;
  const end = experiment.finishedAt?.getTime() ?? (experiment.status === "running" ? now : null);
  if (end === null) return null;
  return Math.max(0, (end - experiment.startedAt.getTime()) / 1000);
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const DATE_TIME_SECONDS = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** With `seconds` for moments a few seconds apart, such as a run's attempts. */
export function formatDateTime(time: Date | null, { seconds = false } = {}): string {
  if (!time) return "–";
  return (seconds ? DATE_TIME_SECONDS : DATE_TIME).format(time);
}

export function formatTime(time: Date | null): string {
  return time ? TIME.format(time) : "";
}

/** Four significant digits, or an exponent for very small or large values. */
export function formatMetric(value: number | undefined): string {
  if (value === undefined) return "–";
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const size = Math.abs(value);
  if (size >= 1e6 || size < 1e-4) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let size = bytes / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** What a run is called on screen: the name its owner gave it, else its pipeline. */
export function runName(experiment: Pick<Experiment, "name" | "pipeline">): string {
  return experiment.name || experiment.pipeline;
}

/**
 * `baseline · 1a2b3c4d` (or `weather_forecaster · 1a2b3c4d` for an unnamed run): a run's label
 * wherever runs sit side by side; the id keeps two runs of one name apart.
 */
export function runLabel(experiment: Pick<Experiment, "id" | "name" | "pipeline">): string {
  return `${runName(experiment)} · ${shortId(experiment.id)}`;
}

// Metrics where more is better; everything else (losses, errors) is better lower.
const HIGHER_IS_BETTER = /(^|_)(accuracy|acc|precision|recall|f1|auc|r2|improvement)$/;

export function higherIsBetter(metric: string): boolean {
  return HIGHER_IS_BETTER.test(metric);
}

// The metric a list shows for a run, first found wins: the test scores a finished run reports,
// then the validation and training losses a running one has.
const HEADLINE_METRICS = ["accuracy", "rmse", "mae", "val_accuracy", "val_loss", "loss"];

/** The one metric that sums a run up in a list, e.g. `["rmse", 0.2]`; null when it has none. */
export function headlineMetric(metrics: Record<string, number>): [string, number] | null {
  for (const name of HEADLINE_METRICS) {
    const value = metrics[name];
    if (value !== undefined) return [name, value];
  }
  const first = Object.keys(metrics).sort()[0];
  return first === undefined ? null : [first, metrics[first] as number];
}

/**
 * Why a run was lost, in a few plain words, for a notice: "trainer-1 was lost" for
 * "trainer trainer-1 at 127.0.0.1:4567 was lost (UNAVAILABLE: Socket closed)", and so on for the
 * scheduler's and trainer's other usual reasons. A reason it does not know comes back as it is.
 */
export function shortLossReason(reason: string): string {
  const text = reason.trim();
  const lostTrainer = /^trainer (\S+) at \S+ was lost/.exec(text);
  if (lostTrainer) {
    const name = lostTrainer[1] as string;
    // "trainer trainer-1 was lost" says "trainer" twice.
    return /^trainer/i.test(name) ? `${name} was lost` : `trainer ${name} was lost`;
  }
  if (text.includes("the training process was killed by signal")) return "its training process was killed";
  if (text.includes("no scheduler followed the run")) return "no scheduler followed it for too long";
  return text;
}

/**
 * What a resume did, in a sentence: "Resumed on trainer-2 from the checkpoint after epoch 3
 * (attempt 2 of 4): trainer trainer-1 at 127.0.0.1:4567 was lost (...)". `attemptsAllowed` is
 * the experiment's `maxRestarts + 1`, or null when not known. With `brief` the reason is
 * `shortLossReason`'s and the sentence ends with a full stop: "...(attempt 2 of 4): trainer-1
 * was lost."
 */
export function resumeText(
  resume: Pick<ResumedEvent, "trainerId" | "fromEpoch" | "attempt" | "reason">,
  attemptsAllowed: number | null,
  { brief = false } = {},
): string {
  const trainer = resume.trainerId || "another trainer";
  const where =
    resume.fromEpoch > 0
      ? `Resumed on ${trainer} from the checkpoint after epoch ${resume.fromEpoch}`
      : `Started over on ${trainer}, with no checkpoint to resume from`;
  const attempt = resume.attempt > 0 ? ` (attempt ${resume.attempt}${attemptsAllowed ? ` of ${attemptsAllowed}` : ""})` : "";
  const reason = brief ? shortLossReason(resume.reason) : resume.reason;
  const sentence = `${where}${attempt}${reason ? `: ${reason}` : ""}`;
  return brief && !/[.!?]$/.test(sentence) ? `${sentence}.` : sentence;
}

/** A config value as a short string: `[8, 16]`, `true`, `none`. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "none";
  if (typeof value === "string") return value;
  return JSON.stringify(value).replace(/,/g, ", ");
}
