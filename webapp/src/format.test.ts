import { describe, expect, it } from "vitest";
import { resumeText, runLabel, runName, shortLossReason } from "./format";

describe("runName and runLabel", () => {
  it("call a run by its name, or by its pipeline when it has none, and label it with its id", () => {
    const named = { id: "1a2b3c4d-5e6f", name: "baseline", pipeline: "weather_forecaster" };
    const unnamed = { ...named, name: "" };
    expect(runName(named)).toBe("baseline");
    expect(runName(unnamed)).toBe("weather_forecaster");
    expect(runLabel(named)).toBe("baseline · 1a2b3c4d");
    expect(runLabel(unnamed)).toBe("weather_forecaster · 1a2b3c4d");
  });
});

describe("shortLossReason", () => {
  it("names the trainer that was lost, without its address or error", () => {
    expect(shortLossReason("trainer trainer-1 at 127.0.0.1:40287 was lost (UNAVAILABLE: Stream removed (Socket closed))")).toBe(
      "trainer-1 was lost",
    );
    expect(shortLossReason("trainer gpu-box at [::1]:50051 was lost (UNAVAILABLE: Socket closed)")).toBe("trainer gpu-box was lost");
  });

  it("says a killed training process or a run no scheduler followed in words", () => {
    expect(
      shortLossReason("the training process was killed by signal SIGKILL (exit code -9) (the out-of-memory killer sends SIGKILL)"),
    ).toBe("its training process was killed");
    expect(
      shortLossReason("no scheduler followed the run for 30 s, so trainer trainer-2 stopped it; it resumes from its last checkpoint"),
    ).toBe("no scheduler followed it for too long");
    expect(shortLossReason("its trainer trainer-1 sent no heartbeat for 60 s while no scheduler followed the run")).toBe(
      "no scheduler followed it for too long",
    );
  });

  it("leaves a reason it does not know as it is", () => {
    expect(shortLossReason("the disk filled up")).toBe("the disk filled up");
    expect(shortLossReason("trainer trainer-1 refused the experiment")).toBe("trainer trainer-1 refused the experiment");
    expect(shortLossReason("")).toBe("");
  });
});

describe("resumeText", () => {
  const resume = {
    trainerId: "trainer-1",
    fromEpoch: 2,
    attempt: 2,
    reason: "trainer trainer-1 at 127.0.0.1:40287 was lost (UNAVAILABLE: Socket closed)",
  };

  it("says the whole reason by default, for the log", () => {
    expect(resumeText(resume, 4)).toBe(
      "Resumed on trainer-1 from the checkpoint after epoch 2 (attempt 2 of 4): trainer trainer-1 at 127.0.0.1:40287 was lost (UNAVAILABLE: Socket closed)",
    );
  });

  it("says it in a short sentence when brief, for the notice", () => {
    expect(resumeText(resume, 4, { brief: true })).toBe(
      "Resumed on trainer-1 from the checkpoint after epoch 2 (attempt 2 of 4): trainer-1 was lost.",
    );
    expect(resumeText({ ...resume, fromEpoch: 0, reason: "" }, null, { brief: true })).toBe(
      "Started over on trainer-1, with no checkpoint to resume from (attempt 2).",
    );
    expect(resumeText({ ...resume, reason: "the disk filled up." }, null, { brief: true })).toBe(
      "Resumed on trainer-1 from the checkpoint after epoch 2 (attempt 2): the disk filled up.",
    );
  });
});
