// The New experiment page in its Sweep mode.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";
import { LAID_OUT_SCHEMA } from "../test/schemas";
import { SWEEP_ID, wireSweep } from "../test/sweeps";

const PIPELINES = {
  "GET pipelines": () => ({
    json: { pipelines: [{ name: "weather_forecaster", summary: "Forecasts temperatures.", config_schema: LAID_OUT_SCHEMA }] },
  }),
};

describe("launching a sweep", () => {
  it("switches to Sweep mode, builds the sweep from the ranges picked, and opens its page", async () => {
    FakeWebSocket.install();
    await startSession();
    const api = fakeApi({
      ...PIPELINES,
      "POST sweeps": () => ({ status: 201, json: wireSweep() }),
      [`GET sweeps/${SWEEP_ID}`]: () => ({ json: wireSweep() }),
    });
    renderApp("/experiments/new");
    await userEvent.click(await screen.findByRole("radio", { name: /A sweep/ }));
    await userEvent.type(screen.getByLabelText("Name"), "lr search");

    await userEvent.click(screen.getByRole("checkbox", { name: /Vary Learning rate/ }));
    expect(screen.getByRole("combobox", { name: "Learning rate: how it is drawn" })).toHaveValue("loguniform");
    expect(screen.getByRole("textbox", { name: "Learning rate: from" })).toHaveValue("0.001");
    const to = screen.getByRole("textbox", { name: "Learning rate: to" });
    await userEvent.clear(to);
    await userEvent.type(to, "0.05");

    await userEvent.click(screen.getByRole("checkbox", { name: /Vary Hidden size/ }));
    await userEvent.selectOptions(screen.getByRole("combobox", { name: "Hidden size: how it is drawn" }), "choice");
    const values = screen.getByRole("textbox", { name: "Hidden size: values, comma-separated" });
    expect(values).toHaveValue("16, 32, 64");
    await userEvent.clear(values);
    await userEvent.type(values, "4, 16, 32");

    await userEvent.clear(screen.getByLabelText("Trials"));
    await userEvent.type(screen.getByLabelText("Trials"), "12");
    await userEvent.clear(screen.getByLabelText("Metric"));
    await userEvent.type(screen.getByLabelText("Metric"), "val_accuracy");
    expect(screen.getByLabelText("Better is")).toHaveValue("max");
    await userEvent.clear(screen.getByLabelText("Grace epochs"));
    await userEvent.type(screen.getByLabelText("Grace epochs"), "2");

    await userEvent.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));
    expect(await screen.findByRole("heading", { level: 1, name: /lr search 5eeeeeee/ })).toBeInTheDocument();
    const body = api.calls.find((call) => call.method === "POST")?.body as Record<string, unknown>;
    expect(body).toEqual({
      pipeline: "weather_forecaster",
      name: "lr search",
      config: { epochs: 10, seed: 0, lookback: 24, start: "2010-01-01", end: "2010-12-31", test_fraction: 0.2 },
      space: { learning_rate: { loguniform: [0.001, 0.05] }, hidden_size: { choice: [4, 16, 32] } },
      search: "random",
      seed: 0,
      max_trials: 12,
      parallelism: 2,
      objective: { metric: "val_accuracy", mode: "max" },
      early_stopping: { asha: { grace_epochs: 2, reduction_factor: 3 } },
    });
  });

  it("sends no ASHA when it is off, and a grid without a seed to pick", async () => {
    await startSession();
    const api = fakeApi({ ...PIPELINES, "POST sweeps": () => ({ status: 500, json: { error: { code: "internal", message: "boom" } } }) });
    renderApp("/experiments/new?mode=sweep");
    await userEvent.click(await screen.findByRole("checkbox", { name: /Vary Hidden size/ }));
    await userEvent.selectOptions(screen.getByLabelText("Search"), "grid");
    expect(screen.queryByLabelText("Seed", { selector: "#sweep-seed" })).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("checkbox", { name: /Stop trials that fall behind/ }));
    expect(screen.queryByLabelText("Grace epochs")).not.toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));
    expect(await screen.findByText(/The sweep could not be launched: boom/)).toBeInTheDocument();
    expect(api.calls.find((call) => call.method === "POST")?.body).toMatchObject({
      space: { hidden_size: { int: [16, 64] } },
      search: "grid",
      early_stopping: {},
    });
  });

  it("shows the server's errors next to the range and the budget they name, with a summary that takes focus", async () => {
    await startSession();
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
    await userEvent.click(await screen.findByRole("checkbox", { name: /Vary Learning rate/ }));
    const from = screen.getByRole("textbox", { name: "Learning rate: from" });
    await userEvent.clear(from);
    await userEvent.type(from, "0");
    await userEvent.clear(screen.getByLabelText("Trials at once"));
    await userEvent.type(screen.getByLabelText("Trials at once"), "0");
    await userEvent.click(screen.getByRole("button", { name: "Launch sweep of weather_forecaster" }));

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
