import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { LAID_OUT_SCHEMA, SCHEMA } from "../test/schemas";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";

const PIPELINES = {
  "GET pipelines": () => ({
    json: {
      pipelines: [
        { name: "image_classifier", summary: "Reads digits.", config_schema: { properties: { epochs: { type: "integer", default: 12 } } } },
        { name: "weather_forecaster", summary: "Forecasts temperatures.", config_schema: SCHEMA },
        { name: "laid_out", summary: "A schema with its layout.", config_schema: LAID_OUT_SCHEMA },
      ],
    },
  }),
};

describe("the new experiment form", () => {
  it("is drawn from the pipeline's schema, with defaults, help, bounds and choices", async () => {
    await startSession();
    fakeApi(PIPELINES);
    renderApp("/experiments/new?pipeline=weather_forecaster");
    const epochs = await screen.findByLabelText("Epochs");
    expect(epochs).toHaveValue("10");
    expect(epochs).toHaveAccessibleDescription(/Passes over the training data\. Allowed: 1 to 100000\. Default: 10\./);
    expect(screen.getByLabelText("Source")).toHaveValue("sample");
    expect(within(screen.getByLabelText("Source")).getAllByRole("option").map((o) => o.textContent)).toEqual([
      "sample",
      "open-meteo",
    ]);
    expect(screen.getByLabelText("Interval")).toHaveValue("");
    expect(screen.getByLabelText("Log target")).not.toBeChecked();
    expect(screen.getByLabelText("Start")).toHaveAttribute("type", "date");
    expect(screen.getByRole("radio", { name: /weather_forecaster/ })).toBeChecked();
  });

  it("groups the fields in the schema's order and sections, folds the advanced ones, and opens them for an error", async () => {
    await startSession();
    fakeApi({
      ...PIPELINES,
      "POST experiments": () => ({
        status: 422,
        json: { error: { code: "invalid_argument", message: "bad", details: [{ field: "config.seed", message: "seed: must be at least 0" }] } },
      }),
    });
    renderApp("/experiments/new?pipeline=laid_out");
    await screen.findByLabelText("Epochs");
    const sections = screen.getAllByRole("group").filter((group) => group.classList.contains("field-group"));
    const shown = sections.map((section) => [
      within(section).getByText(section.getAttribute("data-group") as string, { selector: "legend" }).textContent,
      Array.from(section.querySelectorAll("[data-field]")).map((field) => field.getAttribute("data-field")),
    ]);
    expect(shown).toEqual([
      ["Training", ["epochs", "learning_rate"]],
      ["Data", ["start", "end"]],
      ["Model", ["hidden_size"]],
      ["Split", ["test_fraction"]],
      ["Training", ["seed"]],
      ["Data", ["lookback"]],
    ]);
    const advanced = screen.getByText(/Advanced settings/).closest("details") as HTMLDetailsElement;
    expect(advanced.open).toBe(false);
    expect(within(advanced).getByLabelText("Seed")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Launch laid_out" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Seed: must be at least 0");
    await waitFor(() => expect(advanced.open).toBe(true));
  });

  it("shows the server's error next to the field it names, and a summary that takes focus", async () => {
    await startSession();
    const api = fakeApi({
      ...PIPELINES,
      "POST experiments": () => ({
        status: 422,
        json: {
          error: {
            code: "invalid_argument",
            message: "invalid config for pipeline 'weather_forecaster'",
            details: [{ field: "config.epochs", rule: "greater_than_equal", message: "epochs: must be at least 1, got 0.0" }],
          },
        },
      }),
    });
    renderApp("/experiments/new?pipeline=weather_forecaster");
    const epochs = await screen.findByLabelText("Epochs");
    await userEvent.clear(epochs);
    await userEvent.type(epochs, "0");
    await userEvent.click(screen.getByRole("button", { name: "Launch weather_forecaster" }));
    const summary = await screen.findByRole("alert");
    expect(summary).toHaveTextContent("Epochs: must be at least 1, got 0.0");
    expect(summary).toHaveFocus();
    expect(epochs).toHaveAttribute("aria-invalid", "true");
    expect(epochs).toHaveAccessibleDescription(/must be at least 1, got 0\.0/);
    expect(api.calls.find((call) => call.method === "POST")?.body).toMatchObject({
      pipeline: "weather_forecaster",
      config: { epochs: 0, learning_rate: 0.01, channels: [8, 16], interval: null },
    });
  });

  it("opens the new experiment once the server accepts it", async () => {
    FakeWebSocket.install();
    await startSession();
    const created = wireExperiment({ experiment_id: "new-run", status: "EXPERIMENT_STATUS_PENDING", metrics: {} });
    fakeApi({
      ...PIPELINES,
      "POST experiments": () => ({ status: 201, json: created }),
      "GET experiments/new-run": () => ({ json: created }),
    });
    renderApp("/experiments/new?pipeline=weather_forecaster");
    await userEvent.click(await screen.findByRole("button", { name: "Launch weather_forecaster" }));
    expect(await screen.findByRole("heading", { name: /weather_forecaster new-run/ })).toBeInTheDocument();
    expect(FakeWebSocket.last().url).toMatch(/experiments\/new-run\/events$/);
  });

  it("starts with an optional Name, sent with the run and kept when another pipeline is picked", async () => {
    FakeWebSocket.install();
    await startSession();
    const created = wireExperiment({ experiment_id: "new-run", name: "smaller steps", status: "EXPERIMENT_STATUS_PENDING" });
    const api = fakeApi({
      ...PIPELINES,
      "POST experiments": () => ({ status: 201, json: created }),
      "GET experiments/new-run": () => ({ json: created }),
    });
    renderApp("/experiments/new?pipeline=weather_forecaster");
    const name = await screen.findByLabelText("Name");
    const form = screen.getByRole("form", { name: "Configure weather_forecaster" });
    expect(form.querySelector("input, select")).toBe(name);
    expect(name).toHaveAccessibleDescription(/Optional: what the run is called in lists, up to 100 characters/);
    await userEvent.type(name, "smaller steps");
    await userEvent.click(screen.getByRole("radio", { name: /image_classifier/ }));
    await userEvent.click(screen.getByRole("radio", { name: /weather_forecaster/ }));
    expect(screen.getByLabelText("Name")).toHaveValue("smaller steps");
    await userEvent.click(screen.getByRole("button", { name: "Launch weather_forecaster" }));
    expect(await screen.findByRole("heading", { name: /smaller steps new-run/ })).toBeInTheDocument();
    expect(api.calls.find((call) => call.method === "POST")?.body).toMatchObject({ pipeline: "weather_forecaster", name: "smaller steps" });
  });

  it("sends no name when none is given, and shows the server's error about one next to it", async () => {
    await startSession();
    const api = fakeApi({
      ...PIPELINES,
      "POST experiments": () => ({
        status: 422,
        json: {
          error: {
            code: "invalid_argument",
            message: "name: must be at most 100 characters, got 120",
            details: [{ field: "name", rule: "max_length", message: "name: must be at most 100 characters, got 120" }],
          },
        },
      }),
    });
    renderApp("/experiments/new?pipeline=weather_forecaster");
    await userEvent.click(await screen.findByRole("button", { name: "Launch weather_forecaster" }));
    const summary = await screen.findByRole("alert");
    expect(api.calls.find((call) => call.method === "POST")?.body).not.toHaveProperty("name");
    expect(summary).toHaveFocus();
    expect(within(summary).getByRole("link", { name: "Name" })).toHaveAttribute("href", "#experiment-name");
    expect(summary).toHaveTextContent("Name: must be at most 100 characters, got 120");
    const name = screen.getByLabelText("Name");
    expect(name).toHaveAttribute("aria-invalid", "true");
    expect(name).toHaveAccessibleDescription(/^must be at most 100 characters, got 120/);
    // Not taken for a config setting of the same name.
    expect(screen.getByLabelText("Epochs")).not.toHaveAttribute("aria-invalid");
  });

  it("draws another pipeline's form when another is picked", async () => {
    await startSession();
    fakeApi(PIPELINES);
    renderApp("/experiments/new?pipeline=weather_forecaster");
    await userEvent.click(await screen.findByRole("radio", { name: /image_classifier/ }));
    expect(await screen.findByLabelText("Epochs")).toHaveValue("12");
    expect(screen.queryByLabelText("Source")).not.toBeInTheDocument();
  });
});
