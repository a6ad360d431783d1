// The New experiment page in its Sweep mode.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";
import { LAID_OUT_SCHEMA } from "../test/schemas";
import { SWEEP_ID, wireSweep } from "../test/sweeps";

type User = ReturnType<typeof userEvent.setup>;

/** Replace an input's text as a paste does: one change, not one per key (the form is large). */
async function fill(u: User, input: HTMLElement, text: string) {
  await u.clear(input);
  await u.paste(text);
}

const PIPELINES = {
  "GET pipelines": () => ({
    json: { pipelines: [{ name: "weather_forecaster", summary: "Forecasts temperatures.", config_schema: LAID_OUT_SCHEMA }] },
  }),
};

describe("launching a sweep", () => {
  it("switches to Sweep mode, builds the space from the ranges picked, and opens the sweep's page", async () => {
    FakeWebSocket.install();
    await startSession();
    const u = userEvent.setup();
    const api = fakeApi({
      ...PIPELINES,
      "POST sweeps": () => ({ status: 201, json: wireSweep() }),
      [`GET sweeps/${SWEEP_ID}`]: () => ({ json: wireSweep() }),
    });
    renderApp("/experiments/new");
    await u.click(await screen.findByLabelText(/A sweep/));
    await fill(u, screen.getByLabelText("Name"), "lr search");

    await u.click(screen.getByLabelText(/Vary Learning rate/));
    expect(screen.getByLabelText("Learning rate: how it is drawn")).toHaveValue("loguniform");
    expect(screen.getByLabelText("Learning rate: from")).toHaveValue("0.001");
    await fill(u, screen.getByLabelText("Learning rate: to"), "0.05");

    await u.click(screen.getByLabelText(/Vary Hidden size/));
    await u.selectOptions(screen.getByLabelText("Hidden size: how it is drawn"), "choice");
    const values = screen.getByLabelText("Hidden size: values, comma-separated");
    expect(values).toHaveValue("16, 32, 64");
    await fill(u, values, "4, 16, 32");

    await u.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));
    expect(await screen.findByRole("heading", { level: 1, name: /lr search 5eeeeeee/ })).toBeInTheDocument();
    expect(api.calls.find((call) => call.method === "POST")?.body).toEqual({
      pipeline: "weather_forecaster",
      name: "lr search",
      config: { epochs: 10, seed: 0, lookback: 24, start: "2010-01-01", end: "2010-12-31", test_fraction: 0.2 },
      space: { learning_rate: { loguniform: [0.001, 0.05] }, hidden_size: { choice: [4, 16, 32] } },
      search: "random",
      seed: 0,
      max_trials: 9,
      parallelism: 2,
      objective: { metric: "val_loss", mode: "min" },
      early_stopping: { asha: { grace_epochs: 1, reduction_factor: 3 } },
    });
  });

  it("sends the trials, the objective (its mode following the metric) and ASHA as set", async () => {
    await startSession();
    const u = userEvent.setup();
    const api = fakeApi({ ...PIPELINES, "POST sweeps": () => ({ status: 503, json: { error: { code: "unavailable", message: "later" } } }) });
    renderApp("/experiments/new?mode=sweep");
    await u.click(await screen.findByLabelText(/Vary Learning rate/));
    await fill(u, screen.getByLabelText("Trials"), "12");
    await fill(u, screen.getByLabelText("Metric"), "val_accuracy");
    expect(screen.getByLabelText("Better is")).toHaveValue("max");
    await fill(u, screen.getByLabelText("Grace epochs"), "2");
    await u.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));
    expect(await screen.findByText(/The sweep could not be launched: later/)).toBeInTheDocument();
    expect(api.calls.find((call) => call.method === "POST")?.body).toMatchObject({
      max_trials: 12,
      objective: { metric: "val_accuracy", mode: "max" },
      early_stopping: { asha: { grace_epochs: 2, reduction_factor: 3 } },
    });
  });

  it("sends no ASHA when it is off, and a grid without a seed to pick", async () => {
    await startSession();
    const u = userEvent.setup();
    const api = fakeApi({ ...PIPELINES, "POST sweeps": () => ({ status: 500, json: { error: { code: "internal", message: "boom" } } }) });
    renderApp("/experiments/new?mode=sweep");
    await u.click(await screen.findByLabelText(/Vary Hidden size/));
    await u.selectOptions(screen.getByLabelText("Search"), "grid");
    expect(screen.queryByLabelText("Seed", { selector: "#sweep-seed" })).not.toBeInTheDocument();
    await u.click(screen.getByLabelText(/Stop trials that fall behind/));
    expect(screen.queryByLabelText("Grace epochs")).not.toBeInTheDocument();
    await u.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));
    expect(await screen.findByText(/The sweep could not be launched: boom/)).toBeInTheDocument();
    expect(api.calls.find((call) => call.method === "POST")?.body).toMatchObject({
      space: { hidden_size: { int: [16, 64] } },
      search: "grid",
      early_stopping: {},
    });
  });

  it("shows the server's errors next to the range and the budget they name, with a summary that takes focus", async () => {
    await startSession();
    const u = userEvent.setup();
    fakeApi({
      ...PIPELINES,
      "POST sweeps": () => ({
        status: 422,
        json: {
          error: {
            code: "invalid_argument",
            message: "invalid sweep",
            details: [
              { field: "space.learning_rate", rule: "bounds", message: "space.learning_rate: loguniform needs 0 < lo < hi, got [0.0, 0.1]" },
              { field: "parallelism", rule: "minimum", message: "parallelism: must be at least 1" },
            ],
          },
        },
      }),
    });
    renderApp("/experiments/new?mode=sweep");
    await u.click(await screen.findByLabelText(/Vary Learning rate/));
    const from = screen.getByLabelText("Learning rate: from");
    await fill(u, from, "0");
    await fill(u, screen.getByLabelText("Trials at once"), "0");
    await u.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));

    const summary = await screen.findByRole("alert");
    expect(summary).toHaveTextContent("The server did not accept this sweep");
    expect(summary).toHaveTextContent("Range of Learning rate: loguniform needs 0 < lo < hi, got [0.0, 0.1]");
    expect(within(summary).getByRole("link", { name: "Range of Learning rate" })).toHaveAttribute("href", "#space-learning_rate");
    expect(summary).toHaveTextContent("Trials at once: must be at least 1");
    await waitFor(() => expect(summary).toHaveFocus());
    expect(from).toHaveAttribute("aria-invalid", "true");
    expect(from).toHaveAccessibleDescription(/loguniform needs 0 < lo < hi/);
    const parallel = screen.getByLabelText("Trials at once");
    expect(parallel).toHaveAttribute("aria-invalid", "true");
    expect(parallel).toHaveAccessibleDescription(/^must be at least 1/);
  });
});
