/**
 * How far a run is: epoch, batch and an estimate of the time left, as an ARIA progress bar.
 * While live updates are paused the estimate stays as it was and says so.
 */

import { formatDuration } from "../format";
import type { ProgressSummary } from "../hooks/runHistory";

export function progressText(progress: ProgressSummary, running: boolean, paused = false): string {
  const parts = [`Epoch ${progress.epoch} of ${progress.totalEpochs}`];
  if (running && progress.totalBatches > 0 && progress.batch > 0) {
    parts.push(`batch ${progress.batch} of ${progress.totalBatches}`);
  }
  if (running) {
    if (progress.secondsLeft === null) parts.push(paused ? "time left unknown while paused" : "estimating time left");
    else parts.push(`about ${formatDuration(progress.secondsLeft)} left${paused ? " (paused)" : ""}`);
  }
  return parts.join(" · ");
}

export function ProgressBar({
  progress,
  running,
  paused = false,
}: {
  progress: ProgressSummary | null;
  running: boolean;
  paused?: boolean;
}) {
  if (!progress) {
    return (
      <div className="progress-block">
        <p className="muted">{running ? "Starting…" : "Waiting for a trainer…"}</p>
      </div>
    );
  }
  const percent = Math.round(progress.fraction * 100);
  const text = progressText(progress, running, paused);
  return (
    <div className="progress-block">
      <div
        className="progress-track"
        role="progressbar"
        aria-label="Training progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}%: ${text}`}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      <p className="progress-text">
        <strong>{percent}%</strong> <span>{text}</span>
      </p>
    </div>
  );
}
