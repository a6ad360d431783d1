import { describe, expect, it } from "vitest";
import { parseEvent } from "../api/types";
import { applyEvent, EMPTY_HISTORY, metricGroups, summarizeProgress, type RunHistory } from "./runHistory";

const T0 = Date.parse("2026-01-02T10:00:00Z");

function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

function fold(events: Record<string, unknown>[]): RunHistory {
  return events.map((event) => parseEvent({ experiment_id: "e1", ...event })).reduce(applyEvent, EMPTY_HISTORY);
}

const started = { seq: 1, emitted_at: at(0), experiment_started: { total_epochs: 4, steps_per_epoch: 100 } };

describe("applyEvent", () => {
  it("collects epochs, progress, log lines, artifacts and the ending", () => {
    const history = fold([
      started,
      { seq: 2, emitted_at: at(1), log_line: { level: "INFO", logger: "p", message: "fitting" } },
      { seq: 3, emitted_at: at(2), epoch_ended: { epoch: 1, total_epochs: 4, metrics: { loss: 0.5, val_loss: 0.6 } } },
      { seq: 4, emitted_at: at(3), batch_progress: { epoch: 2, batch: 50, total_batches: 100, loss: 0.4 } },
      { seq: 5, emitted_at: at(4), artifact_stored: { artifact: { name: "loss.png" } } },
      { seq: 6, emitted_at: at(5), experiment_finished: { status: "EXPERIMENT_STATUS_CANCELLED", error_message: "stopped" } },
    ]);
    expect(history.lastSeq).toBe(6);
    expect(history.totalEpochs).toBe(4);
    expect(history.epochs).toEqual([{ epoch: 1, metrics: { loss: 0.5, val_loss: 0.6 }, elapsedSeconds: 0 }]);
    expect(history.progress).toEqual({ epoch: 2, batch: 50, totalBatches: 100, loss: 0.4 });
    expect(history.logs.map((line) => line.message)).toEqual(["fitting"]);
    expect(history.artifacts.map((artifact) => artifact.name)).toEqual(["loss.png"]);
    expect(history.finished).toMatchObject({ status: "cancelled", errorMessage: "stopped" });
  });

  it("ignores an event it has already applied", () => {
    const once = fold([started, { seq: 2, epoch_ended: { epoch: 1, metrics: { loss: 1 } } }]);
    const again = applyEvent(once, parseEvent({ seq: 2, epoch_ended: { epoch: 1, metrics: { loss: 9 } } }));
    expect(again).toBe(once);
  });
});

describe("metricGroups", () => {
  it("pairs each metric with its validation twin, loss first", () => {
    const history = fold([
      { seq: 1, epoch_ended: { epoch: 1, metrics: { val_accuracy: 0.8, accuracy: 0.9, val_loss: 1, loss: 2, learning_rate: 0.1 } } },
    ]);
    expect(metricGroups(history.epochs)).toEqual([
      { title: "loss", names: ["loss", "val_loss"] },
      { title: "accuracy", names: ["accuracy", "val_accuracy"] },
      { title: "learning_rate", names: ["learning_rate"] },
    ]);
  });
});

describe("summarizeProgress", () => {
  it("is nothing before the run has started", () => {
    expect(summarizeProgress(EMPTY_HISTORY)).toBeNull();
  });

  it("counts finished epochs and the batches of the current one, and estimates the time left", () => {
    const history = fold([
      started,
      { seq: 2, emitted_at: at(10), epoch_ended: { epoch: 1, total_epochs: 4, metrics: { loss: 1 } } },
      { seq: 3, emitted_at: at(15), batch_progress: { epoch: 2, batch: 50, total_batches: 100 } },
    ]);
    // 1.5 of 4 epochs in 15 s: 25 s to go.
    expect(summarizeProgress(history)).toEqual({
      fraction: 1.5 / 4,
      epoch: 2,
      totalEpochs: 4,
      batch: 50,
      totalBatches: 100,
      secondsLeft: 25,
    });
  });

  it("is complete when the run succeeded", () => {
    const history = fold([
      started,
      ...[1, 2, 3, 4].map((epoch) => ({ seq: epoch + 1, emitted_at: at(epoch), epoch_ended: { epoch, total_epochs: 4, metrics: {} } })),
      { seq: 6, emitted_at: at(5), experiment_finished: { status: "EXPERIMENT_STATUS_SUCCEEDED" } },
    ]);
    expect(summarizeProgress(history)).toMatchObject({ fraction: 1, epoch: 4, secondsLeft: null });
  });
});
