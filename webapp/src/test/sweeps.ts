// A sweep and its events as the gateway sends them (the .proto's field names, enums by name).

export const SWEEP_ID = "5eeeeeee-aaaa-bbbb-cccc-000000000001";

export function wireTrial(number: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    number,
    experiment_id: `trial-${number}`,
    status: "EXPERIMENT_STATUS_RUNNING",
    settings: { learning_rate: 0.001 * number, hidden_size: 16 },
    epochs_done: 0,
    rungs: [],
    stop_reason: "",
    ...overrides,
  };
}

export function wireSweep(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sweep_id: SWEEP_ID,
    spec: {
      pipeline: "weather_forecaster",
      config: { epochs: 9 },
      space: { learning_rate: { loguniform: [0.0005, 0.05] }, hidden_size: { choice: [4, 16, 32] } },
      search: "random",
      seed: "7",
      max_trials: 9,
      parallelism: 2,
      objective: { metric: "val_loss", mode: "min" },
      early_stopping: { asha: { grace_epochs: 1, reduction_factor: 3 } },
      name: "lr search",
    },
    status: "SWEEP_STATUS_RUNNING",
    owner: "ada",
    created_at: "2026-01-02T10:00:00Z",
    finished_at: "1970-01-01T00:00:00Z",
    trials: [],
    epochs_spent: 0,
    epochs_budget: 0,
    error_message: "",
    last_seq: "0",
    ...overrides,
  };
}

export function trialChanged(seq: number, trial: Record<string, unknown>): Record<string, unknown> {
  return { sweep_id: SWEEP_ID, seq: String(seq), emitted_at: "2026-01-02T10:00:01Z", trial_changed: { trial } };
}

export function decision(seq: number, trial: number, promoted: boolean, objective: number, cutoff: number): Record<string, unknown> {
  return {
    sweep_id: SWEEP_ID,
    seq: String(seq),
    decision: {
      trial,
      experiment_id: `trial-${trial}`,
      result: { rung: 0, epoch: 1, objective, promoted },
      trials_at_rung: 3,
      cutoff,
      reason: promoted ? "" : `rung 0 (epoch 1): val_loss ${objective} is not in the top 1/3 of 3 trials (cut-off ${cutoff})`,
    },
  };
}

export function finished(seq: number, status: string, best: Record<string, unknown> | null): Record<string, unknown> {
  return { sweep_id: SWEEP_ID, seq: String(seq), finished: { status, ...(best ? { best_trial: best } : {}), error_message: "" } };
}
