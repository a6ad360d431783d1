import { describe, expect, it } from "vitest";
import { parseEvent, parseExperiment, parseStatus, parseStatusChange } from "./types";

describe("parseExperiment", () => {
  it("reads the .proto field names the gateway sends", () => {
    const experiment = parseExperiment({
      experiment_id: "e1",
      name: "baseline",
      pipeline: "weather_forecaster",
      config: { epochs: 5.0, val_fraction: 0.1 },
      status: "EXPERIMENT_STATUS_RUNNING",
      created_at: "2026-01-02T10:00:00Z",
      started_at: "1970-01-01T00:00:00Z",
      epochs_done: 2,
      total_epochs: 5,
      metrics: { val_loss: 0.5, loss: "NaN" },
      artifacts: [{ name: "loss.png", size_bytes: "1234", content_type: "image/png" }],
      last_seq: "42",
    });
    expect(experiment).toMatchObject({
      id: "e1",
      name: "baseline",
      status: "running",
      epochsDone: 2,
      totalEpochs: 5,
      lastSeq: 42,
      config: { epochs: 5, val_fraction: 0.1 },
      artifacts: [{ name: "loss.png", sizeBytes: 1234, contentType: "image/png" }],
    });
    expect(experiment.createdAt?.toISOString()).toBe("2026-01-02T10:00:00.000Z");
    // The zero Timestamp means "not set".
    expect(experiment.startedAt).toBeNull();
    expect(experiment.metrics.val_loss).toBe(0.5);
    expect(experiment.metrics.loss).toBeNaN();
  });

  it("reads protobuf's camelCase JSON names too, and keeps map keys as sent", () => {
    const experiment = parseExperiment({
      experimentId: "e2",
      epochsDone: 3,
      totalEpochs: "7",
      errorMessage: "boom",
      status: 4,
      metrics: { val_loss: 1 },
    });
    expect(experiment).toMatchObject({ id: "e2", epochsDone: 3, totalEpochs: 7, errorMessage: "boom", status: "failed" });
    expect(Object.keys(experiment.metrics)).toEqual(["val_loss"]);
  });

  it("survives missing and malformed fields", () => {
    const experiment = parseExperiment({ config: "nope", artifacts: 3, created_at: "garbage", attempts: {} });
    expect(experiment).toMatchObject({ id: "", name: "", config: {}, artifacts: [], createdAt: null, status: "unspecified" });
    expect(experiment).toMatchObject({ maxRestarts: 0, attempts: [], checkpointEpoch: 0 });
  });

  it("reads the attempts of a resumed run, the running one without an end", () => {
    const experiment = parseExperiment({
      max_restarts: 3,
      checkpoint_epoch: 4,
      attempts: [
        {
          number: 1,
          trainer_id: "trainer-1",
          started_at: "2026-01-02T10:00:00Z",
          ended_at: "2026-01-02T10:05:00Z",
          lost_reason: "trainer trainer-1 was lost (UNAVAILABLE: Socket closed)",
        },
        { number: 2, trainerId: "trainer-2", fromEpoch: 3, startedAt: "2026-01-02T10:05:02Z", endedAt: "1970-01-01T00:00:00Z" },
      ],
    });
    expect(experiment).toMatchObject({ maxRestarts: 3, checkpointEpoch: 4 });
    expect(experiment.attempts).toEqual([
      {
        number: 1,
        trainerId: "trainer-1",
        fromEpoch: 0,
        startedAt: new Date("2026-01-02T10:00:00Z"),
        endedAt: new Date("2026-01-02T10:05:00Z"),
        lostReason: "trainer trainer-1 was lost (UNAVAILABLE: Socket closed)",
      },
      {
        number: 2,
        trainerId: "trainer-2",
        fromEpoch: 3,
        startedAt: new Date("2026-01-02T10:05:02Z"),
        endedAt: null,
        lostReason: "",
      },
    ]);
  });
});

describe("parseStatus", () => {
  it.each([
    ["EXPERIMENT_STATUS_PENDING", "pending"],
    ["EXPERIMENT_STATUS_CANCELLED", "cancelled"],
    ["succeeded", "succeeded"],
    [2, "running"],
    ["EXPERIMENT_STATUS_UNSPECIFIED", "unspecified"],
    [undefined, "unspecified"],
  ])("%s is %s", (wire, status) => {
    expect(parseStatus(wire)).toBe(status);
  });
});

describe("parseEvent", () => {
  it("reads each kind of event", () => {
    const base = { experiment_id: "e1", emitted_at: "2026-01-02T10:00:00Z" };
    expect(parseEvent({ ...base, seq: 1, experiment_started: { pipeline: "p", total_epochs: 5, steps_per_epoch: 100 } })).toMatchObject({
      type: "started",
      seq: 1,
      totalEpochs: 5,
      stepsPerEpoch: 100,
    });
    expect(
      parseEvent({ ...base, seq: "2", epochEnded: { epoch: 1, totalEpochs: 5, metrics: { loss: 0.3 }, elapsedSeconds: 1.5 } }),
    ).toMatchObject({ type: "epochEnded", seq: 2, epoch: 1, metrics: { loss: 0.3 }, elapsedSeconds: 1.5 });
    expect(parseEvent({ ...base, seq: 3, batch_progress: { epoch: 2, batch: 10, total_batches: 100, loss: 0.2 } })).toMatchObject({
      type: "batchProgress",
      batch: 10,
      totalBatches: 100,
    });
    expect(parseEvent({ ...base, seq: 4, log_line: { level: "INFO", logger: "x", message: "hello" } })).toMatchObject({
      type: "log",
      message: "hello",
    });
    expect(parseEvent({ ...base, seq: 5, artifact_stored: { artifact: { name: "report.md", size_bytes: 10 } } })).toMatchObject({
      type: "artifactStored",
      artifact: { name: "report.md", sizeBytes: 10 },
    });
    expect(
      parseEvent({ ...base, seq: 6, experiment_finished: { status: "EXPERIMENT_STATUS_FAILED", error_message: "oops", metrics: {} } }),
    ).toMatchObject({ type: "finished", status: "failed", errorMessage: "oops" });
    expect(
      parseEvent({
        ...base,
        seq: 7,
        experiment_finished: {
          status: "EXPERIMENT_STATUS_SUCCEEDED",
          metrics: { mae: 0.5 },
          baselines: { "seasonal naive": { values: { mae: 0.9 } } },
          references: { linear_ar: { values: { mae: "0.7" } } },
        },
      }),
    ).toMatchObject({
      type: "finished",
      metrics: { mae: 0.5 },
      baselines: { "seasonal naive": { mae: 0.9 } },
      references: { linear_ar: { mae: 0.7 } },
    });
    expect(
      parseEvent({
        ...base,
        seq: "8",
        experiment_resumed: {
          trainer_id: "trainer-2",
          from_epoch: 3,
          attempt: 2,
          reason: "trainer trainer-1 was lost",
          previous_trainer_id: "trainer-1",
        },
      }),
    ).toMatchObject({
      type: "resumed",
      seq: 8,
      trainerId: "trainer-2",
      fromEpoch: 3,
      attempt: 2,
      reason: "trainer trainer-1 was lost",
      previousTrainerId: "trainer-1",
    });
    // A resume from no checkpoint: protobuf's JSON leaves the zero out.
    expect(parseEvent({ ...base, seq: 9, experimentResumed: { trainerId: "trainer-2", attempt: 2 } })).toMatchObject({
      type: "resumed",
      fromEpoch: 0,
      reason: "",
    });
    expect(parseEvent({ ...base, seq: 7, something_new: {} })).toMatchObject({ type: "unknown", seq: 7 });
  });
});

describe("parseStatusChange", () => {
  it("reads a status change", () => {
    expect(
      parseStatusChange({
        experiment_id: "e1",
        name: "baseline",
        pipeline: "p",
        owner: "ada",
        status: "EXPERIMENT_STATUS_RUNNING",
        previous_status: "EXPERIMENT_STATUS_PENDING",
      }),
    ).toMatchObject({ experimentId: "e1", name: "baseline", status: "running", previousStatus: "pending", owner: "ada" });
  });
});
