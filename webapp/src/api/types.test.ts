import { describe, expect, it } from "vitest";
import { MalformedMessage } from "./messages";
import { parseEvent, parseExperiment, parseExperimentPage, parseLogin, parsePipelines, parseStatusChange, STATUSES } from "./types";

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

  it("fills what is missing with zero values", () => {
    const experiment = parseExperiment({});
    expect(experiment).toMatchObject({ id: "", name: "", config: {}, artifacts: [], createdAt: null, status: "unspecified" });
    expect(experiment).toMatchObject({ maxRestarts: 0, attempts: [], checkpointEpoch: 0, lastSeq: 0, metrics: {} });
  });

  it("refuses what does not fit the message, naming it", () => {
    // Not a zero in disguise: a page shows the error instead of a run with nothing in it.
    for (const malformed of [{ config: "nope" }, { artifacts: 3 }, { created_at: "garbage" }, { attempts: {} }]) {
      expect(() => parseExperiment(malformed)).toThrow(MalformedMessage);
    }
    expect(() => parseExperiment({ epochs_done: "many" })).toThrow(/azuraforge\.v1\.Experiment.*epochs_done/);
    expect(() => parseExperiment([])).toThrow(/malformed azuraforge\.v1\.Experiment/);
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

describe("statuses", () => {
  it.each([
    ["EXPERIMENT_STATUS_PENDING", "pending"],
    ["EXPERIMENT_STATUS_CANCELLED", "cancelled"],
    ["EXPERIMENT_STATUS_SUCCEEDED", "succeeded"],
    ["EXPERIMENT_STATUS_STOPPED_EARLY", "stopped_early"],
    [2, "running"],
    ["EXPERIMENT_STATUS_UNSPECIFIED", "unspecified"],
    // A newer server's status, by name or by number, is one this build cannot show.
    ["EXPERIMENT_STATUS_PAUSED", "unspecified"],
    [99, "unspecified"],
  ])("%s is %s", (wire, status) => {
    expect(parseStatusChange({ status: wire }).status).toBe(status);
    expect(parseExperiment({ status: wire }).status).toBe(status);
  });

  it("is unspecified when left out", () => {
    expect(parseStatusChange({}).status).toBe("unspecified");
  });

  it("lists every status the .proto has, stopped early included", () => {
    expect(STATUSES).toEqual(["pending", "running", "succeeded", "failed", "cancelled", "stopped_early"]);
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

describe("reading the protobuf JSON form", () => {
  it("skips fields this build does not know, at any depth", () => {
    const experiment = parseExperiment({
      experiment_id: "e1",
      added_in_a_later_release: { anything: [1, 2] },
      attempts: [{ number: 1, also_new: true }],
    });
    expect(experiment).toMatchObject({ id: "e1", attempts: [{ number: 1 }] });
    expect(parseEvent({ seq: 3, epoch_ended: { epoch: 1, new_field: "x" } })).toMatchObject({ type: "epochEnded", epoch: 1 });
  });

  it("reads 64-bit integers written as numbers or as strings", () => {
    for (const seq of [42, "42"]) {
      expect(parseEvent({ seq, log_line: { message: "m" } }).seq).toBe(42);
      expect(parseExperiment({ last_seq: seq }).lastSeq).toBe(42);
      expect(parseExperiment({ artifacts: [{ name: "a", size_bytes: seq }] }).artifacts[0]?.sizeBytes).toBe(42);
    }
    // grpcurl's canonical form quotes them; the gateway writes numbers.
    expect(parseExperiment({ lastSeq: "9007199254740991" }).lastSeq).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("reads enums by name and by number", () => {
    expect(parseEvent({ experiment_finished: { status: "EXPERIMENT_STATUS_STOPPED_EARLY" } })).toMatchObject({
      type: "finished",
      status: "stopped_early",
    });
    expect(parseEvent({ experiment_finished: { status: 6 } })).toMatchObject({ status: "stopped_early" });
    expect(parseLogin({ access_token: "t", user: { role: "ROLE_ADMIN" } }).user?.role).toBe("admin");
    expect(parseLogin({ access_token: "t", user: { role: 1 } }).user?.role).toBe("user");
  });

  it("keeps a config's settings in the order the gateway sent them", () => {
    const config = { source: "seattle-weather", epochs: 2, channels: [8, 16], nested: { b: 1, a: null } };
    const experiment = parseExperiment({ config });
    expect(experiment.config).toEqual(config);
    expect(Object.keys(experiment.config)).toEqual(["source", "epochs", "channels", "nested"]);
  });

  it("reads a page of experiments, the pipelines and a log-in", () => {
    const page = parseExperimentPage({
      experiments: [{ experiment_id: "e1", status: "EXPERIMENT_STATUS_RUNNING" }],
      next_page_token: "t2",
      total_size: 7,
    });
    expect(page).toMatchObject({ experiments: [{ id: "e1", status: "running" }], nextPageToken: "t2", totalSize: 7 });
    const pipelines = parsePipelines({
      pipelines: [{ name: "p", summary: "s", config_schema: { type: "object", properties: { epochs: { type: "integer" } } } }],
    });
    expect(pipelines).toEqual([
      { name: "p", summary: "s", configSchema: { type: "object", properties: { epochs: { type: "integer" } } } },
    ]);
    expect(
      parseLogin({ access_token: "abc", token_type: "bearer", expires_in: 60, user: { user_id: "u1", username: "ada" } }),
    ).toEqual({ token: "abc", expiresInSeconds: 60, user: { id: "u1", username: "ada", role: "user" } });
    expect(parseLogin({ access_token: "abc" }).user).toBeNull();
  });
});
