import { describe, expect, it } from "vitest";
import { parseEvent } from "../api/types";
import {
  applyEvent,
  EMPTY_HISTORY,
  metricGroups,
  resumesOnCurve,
  summarizeProgress,
  type RunHistory,
} from "./runHistory";

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

  it("shows an ending whose files follow at once, and the files as they come after it", () => {
    const ending = { status: "EXPERIMENT_STATUS_SUCCEEDED", metrics: { rmse: 1.2 }, files_follow: true };
    const ended = fold([started, { seq: 2, emitted_at: at(1), experiment_finished: ending }]);
    expect(ended.finished).toMatchObject({ status: "succeeded", metrics: { rmse: 1.2 } });
    expect(ended.filesPending).toBe(true);

    const stored = [
      { seq: 3, emitted_at: at(2), artifact_stored: { artifact: { name: "report.md" } } },
      { seq: 4, emitted_at: at(2), files_stored: { count: 1, error_message: "" } },
    ].reduce((history, event) => applyEvent(history, parseEvent({ experiment_id: "e1", ...event })), ended);
    expect(stored.artifacts.map((artifact) => artifact.name)).toEqual(["report.md"]);
    expect(stored).toMatchObject({ filesPending: false, filesError: "", lastSeq: 4 });
    expect(stored.finished).toEqual(ended.finished);
  });

  it("keeps why some files are missing", () => {
    const history = fold([
      started,
      { seq: 2, experiment_finished: { status: "EXPERIMENT_STATUS_SUCCEEDED", files_follow: true } },
      { seq: 3, files_stored: { error_message: "the run's files were not sent: killed" } },
    ]);
    expect(history).toMatchObject({ filesPending: false, filesError: "the run's files were not sent: killed" });
  });

  it("ignores an event it has already applied", () => {
    const once = fold([started, { seq: 2, epoch_ended: { epoch: 1, metrics: { loss: 1 } } }]);
    const again = applyEvent(once, parseEvent({ seq: 2, epoch_ended: { epoch: 1, metrics: { loss: 9 } } }));
    expect(again).toBe(once);
  });
});

describe("applyEvent on a resumed run", () => {
  const epoch = (seq: number, number: number, loss: number) => ({
    seq,
    emitted_at: at(seq),
    epoch_ended: { epoch: number, total_epochs: 4, metrics: { loss } },
  });
  const resumed = (seq: number, fromEpoch: number) => ({
    seq,
    emitted_at: at(seq),
    experiment_resumed: {
      trainer_id: "trainer-2",
      from_epoch: fromEpoch,
      attempt: 2,
      reason: "trainer trainer-1 at 127.0.0.1:4567 was lost (UNAVAILABLE: Socket closed)",
      previous_trainer_id: "trainer-1",
    },
  });
  const lossByEpoch = (history: RunHistory) => history.epochs.map((point) => [point.epoch, point.metrics.loss]);

  it("keeps one point per epoch, the one trained last", () => {
    const history = fold([
      started,
      epoch(2, 1, 0.9),
      epoch(3, 2, 0.8),
      epoch(4, 3, 0.7),
      resumed(5, 2),
      epoch(6, 3, 0.65),
      epoch(7, 4, 0.6),
    ]);
    expect(lossByEpoch(history)).toEqual([
      [1, 0.9],
      [2, 0.8],
      [3, 0.65],
      [4, 0.6],
    ]);
  });

  it("drops the points past the checkpoint at once, even those never trained again", () => {
    const history = fold([started, epoch(2, 1, 0.9), epoch(3, 2, 0.8), epoch(4, 3, 0.7), resumed(5, 1)]);
    expect(lossByEpoch(history)).toEqual([[1, 0.9]]);
    const over = fold([started, epoch(2, 1, 0.9), resumed(3, 0)]);
    expect(over.epochs).toEqual([]);
  });

  it("ignores a replayed resume, so the epochs trained after it stay", () => {
    const history = fold([started, epoch(2, 1, 0.9), epoch(3, 2, 0.8), resumed(4, 1), epoch(5, 2, 0.75)]);
    const again = applyEvent(history, parseEvent({ experiment_id: "e1", ...resumed(4, 1) }));
    expect(again).toBe(history);
  });

  it("says so in the log and starts the progress over from the checkpoint", () => {
    const history = fold([
      started,
      epoch(2, 1, 0.9),
      { seq: 3, emitted_at: at(3), batch_progress: { epoch: 2, batch: 80, total_batches: 100 } },
      resumed(4, 1),
    ]);
    expect(history.resumes).toMatchObject([{ seq: 4, trainerId: "trainer-2", fromEpoch: 1, attempt: 2 }]);
    expect(history.logs.at(-1)).toMatchObject({
      seq: 4,
      level: "WARNING",
      message:
        "Resumed on trainer-2 from the checkpoint after epoch 1 (attempt 2): trainer trainer-1 at 127.0.0.1:4567 was lost (UNAVAILABLE: Socket closed)",
    });
    expect(history.progress).toBeNull();
    expect(summarizeProgress(history)).toMatchObject({ epoch: 2, batch: 0, secondsLeft: null });
  });

  it("estimates the time left from the new attempt's own pace", () => {
    // 1 of the 3 epochs left after the checkpoint in 10 s: 20 s to go.
    const history = fold([
      started,
      epoch(2, 1, 0.9),
      resumed(4, 1),
      { seq: 5, emitted_at: at(100), experiment_started: { total_epochs: 4, steps_per_epoch: 100, initial_epoch: 1 } },
      { seq: 6, emitted_at: at(110), epoch_ended: { epoch: 2, total_epochs: 4, metrics: { loss: 0.8 } } },
    ]);
    expect(summarizeProgress(history)).toMatchObject({ epoch: 3, secondsLeft: expect.closeTo(20) });
  });
});

describe("resumesOnCurve", () => {
  const resumedFrom = (...fromEpochs: number[]) =>
    fold(
      fromEpochs.map((fromEpoch, index) => ({
        seq: index + 1,
        experiment_resumed: { trainer_id: `trainer-${index + 2}`, from_epoch: fromEpoch, attempt: index + 2 },
      })),
    ).resumes;
  const fromEpochs = (resumes: RunHistory["resumes"]) => resumes.map((resume) => resume.fromEpoch);

  it("keeps the resumes whose attempt still has points on the curve", () => {
    // 5 was gone back before by 2, the first 4 redone by the second.
    expect(fromEpochs(resumesOnCurve(resumedFrom(5, 2, 4, 4, 6)))).toEqual([2, 4, 6]);
  });

  it("keeps none from before a start over", () => {
    expect(fromEpochs(resumesOnCurve(resumedFrom(3, 0, 2)))).toEqual([2]);
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
