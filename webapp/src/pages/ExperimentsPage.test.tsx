import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";

const FIRST = wireExperiment({ experiment_id: "aaaaaaaa-0001", status: "EXPERIMENT_STATUS_PENDING", metrics: {}, started_at: null, finished_at: null });
const SECOND = wireExperiment({
  experiment_id: "bbbbbbbb-0002",
  pipeline: "stock_predictor",
  owner: "grace",
  config: { epochs: 30, ticker: "IBM" },
  metrics: { rmse: 1.25 },
  baselines: { "random walk": { values: { rmse: 1.5 } } },
});

function listApi(experiments: Record<string, unknown>[], extra = {}) {
  return fakeApi({
    "GET pipelines": () => ({ json: { pipelines: [{ name: "weather_forecaster" }, { name: "stock_predictor" }] } }),
    "GET experiments": ({ url }) => {
      const statuses = url.searchParams.getAll("status");
      const pipeline = url.searchParams.get("pipeline");
      const shown = experiments.filter(
        (e) =>
          (!statuses.length || statuses.some((s) => String(e.status).endsWith(s.toUpperCase()))) &&
          (!pipeline || e.pipeline === pipeline),
      );
      return { json: { experiments: shown, next_page_token: "", total_size: shown.length } };
    },
    ...extra,
  });
}

describe("the experiments table", () => {
  it("lists runs with their status, epochs, duration and best metric; owners only for admins", async () => {
    FakeWebSocket.install();
    await startSession("user");
    listApi([FIRST, SECOND]);
    renderApp("/experiments");
    const rows = await screen.findAllByRole("row");
    expect(rows).toHaveLength(3);
    const second = within(rows[2] as HTMLElement);
    expect(second.getByRole("link", { name: "stock_predictor" })).toHaveAttribute("href", "/experiments/bbbbbbbb-0002");
    expect(second.getByText("Succeeded")).toBeInTheDocument();
    expect(second.getByText("45 s")).toBeInTheDocument();
    expect(rows[2]).toHaveTextContent("rmse 1.25");
    expect(screen.queryByRole("columnheader", { name: "Owner" })).not.toBeInTheDocument();
  });

  it("links each run by its name, with the pipeline beside it, and finds runs by name", async () => {
    FakeWebSocket.install();
    await startSession();
    const named = { ...SECOND, name: "IBM, long window" };
    listApi([FIRST, named]);
    renderApp("/experiments");
    const link = await screen.findByRole("link", { name: "IBM, long window" });
    expect(link).toHaveAttribute("href", "/experiments/bbbbbbbb-0002");
    const cell = link.closest("th") as HTMLElement;
    expect(within(cell).getByText("stock_predictor")).toHaveClass("muted");
    expect(within(cell).getByRole("link")).toBe(link);
    expect(screen.getByRole("checkbox", { name: "Select IBM, long window bbbbbbbb to compare" })).toBeInTheDocument();
    // The unnamed run goes by its pipeline, with nothing beside it but its id.
    const unnamed = screen.getByRole("link", { name: "weather_forecaster" }).closest("th") as HTMLElement;
    expect(unnamed).toHaveTextContent(/^weather_forecaster aaaaaaaa/);
    await userEvent.type(screen.getByLabelText("Search"), "long window");
    expect(screen.getAllByRole("row")).toHaveLength(2);
    expect(screen.getByRole("link", { name: "IBM, long window" })).toBeInTheDocument();
  });

  it("shows the owner column to admins", async () => {
    FakeWebSocket.install();
    await startSession("admin");
    listApi([SECOND]);
    renderApp("/experiments");
    expect(await screen.findByRole("columnheader", { name: "Owner" })).toBeInTheDocument();
    expect(screen.getByRole("cell", { name: "grace" })).toBeInTheDocument();
  });

  it("changes a status live, then re-reads the run for its times and metrics", async () => {
    FakeWebSocket.install();
    await startSession();
    const running = { ...FIRST, status: "EXPERIMENT_STATUS_RUNNING", started_at: "2026-01-02T10:00:05Z", epochs_done: 1 };
    const api = listApi([FIRST], { "GET experiments/aaaaaaaa-0001": () => ({ json: running }) });
    renderApp("/experiments");
    const row = (await screen.findByRole("link", { name: "weather_forecaster" })).closest("tr") as HTMLElement;
    expect(row).toHaveAttribute("data-status", "pending");
    const socket = FakeWebSocket.find("/api/v1/events");
    expect(socket.protocols).toContain("bearer.header.payload.signature");
    act(() => {
      socket.open();
      socket.receive({
        experiment_id: "aaaaaaaa-0001",
        pipeline: "weather_forecaster",
        status: "EXPERIMENT_STATUS_RUNNING",
        previous_status: "EXPERIMENT_STATUS_PENDING",
      });
    });
    expect(row).toHaveAttribute("data-status", "running");
    expect(within(row).getByText("Running")).toBeInTheDocument();
    expect(await within(row).findByText("1 / 5")).toBeInTheDocument();
    expect(api.calls.filter((call) => call.url.pathname === "/api/v1/experiments")).toHaveLength(1);
    expect(screen.getByText(/weather_forecaster aaaaaaaa is now running/)).toBeInTheDocument();
  });

  it("reloads the list when a run it has not seen changes status", async () => {
    FakeWebSocket.install();
    await startSession();
    const experiments = [FIRST];
    listApi(experiments);
    renderApp("/experiments");
    await screen.findByRole("link", { name: "weather_forecaster" });
    experiments.unshift(SECOND);
    act(() => {
      FakeWebSocket.find("/api/v1/events").open();
      FakeWebSocket.find("/api/v1/events").receive({
        experiment_id: "bbbbbbbb-0002",
        pipeline: "stock_predictor",
        status: "EXPERIMENT_STATUS_SUCCEEDED",
      });
    });
    expect(await screen.findByRole("link", { name: "stock_predictor" })).toBeInTheDocument();
  });

  it("filters by status and pipeline on the server and searches what it loaded", async () => {
    FakeWebSocket.install();
    await startSession();
    const api = listApi([FIRST, SECOND]);
    renderApp("/experiments");
    await screen.findByRole("link", { name: "stock_predictor" });
    await userEvent.selectOptions(screen.getByLabelText("Status"), "succeeded");
    await screen.findByText("No experiment matches these filters.", {}, { timeout: 100 }).catch(() => undefined);
    expect(api.calls.at(-1)?.url.searchParams.getAll("status")).toEqual(["succeeded"]);
    expect(await screen.findByRole("link", { name: "stock_predictor" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "weather_forecaster" })).not.toBeInTheDocument();
    await userEvent.selectOptions(screen.getByLabelText("Status"), "");
    await userEvent.selectOptions(screen.getByLabelText("Pipeline"), "weather_forecaster");
    expect(api.calls.at(-1)?.url.searchParams.get("pipeline")).toBe("weather_forecaster");
    await userEvent.selectOptions(screen.getByLabelText("Pipeline"), "");
    await screen.findByRole("link", { name: "stock_predictor" });
    await userEvent.type(screen.getByLabelText("Search"), "ticker=IBM");
    expect(screen.getAllByRole("row")).toHaveLength(2);
    expect(screen.getByRole("link", { name: "stock_predictor" })).toBeInTheDocument();
  });

  it("compares the runs picked with their checkboxes", async () => {
    FakeWebSocket.install();
    await startSession();
    listApi([FIRST, SECOND], {
      "GET experiments/aaaaaaaa-0001": () => ({ json: FIRST }),
      "GET experiments/bbbbbbbb-0002": () => ({ json: SECOND }),
    });
    renderApp("/experiments");
    const compare = await screen.findByRole("button", { name: "Compare selected (0)" });
    expect(compare).toBeDisabled();
    await userEvent.click(await screen.findByRole("checkbox", { name: "Select weather_forecaster aaaaaaaa to compare" }));
    await userEvent.click(screen.getByRole("checkbox", { name: "Select stock_predictor bbbbbbbb to compare" }));
    await userEvent.click(screen.getByRole("button", { name: "Compare selected (2)" }));
    expect(await screen.findByRole("heading", { name: "Compare runs" })).toBeInTheDocument();
  });

  it("names the settings that differ from the pipeline's defaults in each row", async () => {
    FakeWebSocket.install();
    await startSession("user");
    const schema = {
      type: "object",
      "x-order": ["epochs", "ticker", "learning_rate", "window", "layers", "dropout", "seed"],
      properties: {
        epochs: { type: "integer", default: 10 },
        ticker: { type: "string", default: "MSFT" },
        learning_rate: { type: "number", default: 0.01 },
        window: { type: "integer", default: 20 },
        layers: { type: "array", items: { type: "integer" }, default: [8, 16] },
        dropout: { type: "number", default: 0 },
        seed: { type: "integer", default: 0 },
      },
    };
    const tuned = wireExperiment({
      experiment_id: "cccccccc-0003",
      pipeline: "stock_predictor",
      config: { epochs: 30, ticker: "IBM", learning_rate: 0.01, window: 5, layers: [8, 16], dropout: 0.2, seed: 7 },
    });
    const plain = wireExperiment({
      experiment_id: "dddddddd-0004",
      pipeline: "stock_predictor",
      config: { epochs: 10, ticker: "MSFT", layers: [8, 16] },
    });
    listApi([tuned, plain], {
      "GET pipelines": () => ({ json: { pipelines: [{ name: "stock_predictor", config_schema: schema }] } }),
    });
    renderApp("/experiments");
    const rows = await screen.findAllByRole("row");
    expect(await within(rows[1] as HTMLElement).findByText("epochs=30 · ticker=IBM · window=5 · dropout=0.2 · +1 more")).toBeInTheDocument();
    expect(rows[2]?.querySelector(".run-settings")).toBeNull();
  });

  it("folds the filters behind a button that says how many are on", async () => {
    FakeWebSocket.install();
    await startSession("user");
    listApi([FIRST]);
    renderApp("/experiments?status=running");
    const toggle = await screen.findByRole("button", { name: "Filters (1 on)" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(screen.getByRole("search", { name: "Filter experiments" })).not.toHaveClass("is-open");
    await userEvent.click(toggle);
    expect(screen.getByRole("button", { name: "Hide filters (1 on)" })).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByRole("search", { name: "Filter experiments" })).toHaveClass("is-open");
  });
});
