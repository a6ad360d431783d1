import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { parseEvent, parseExperiment } from "../api/types";
import { applyEvent, EMPTY_HISTORY } from "../hooks/runHistory";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";
import { compareConfigs, compareMetrics } from "./ComparePage";

const A = wireExperiment({ experiment_id: "aaaaaaaa-1", config: { epochs: 5, lr: 0.01, source: "sample" }, metrics: { rmse: 0.2 } });
const B = wireExperiment({ experiment_id: "bbbbbbbb-2", name: "fewer epochs", config: { epochs: 3, lr: 0.01, source: "sample" }, metrics: { rmse: 0.3 } });

describe("compareConfigs", () => {
  it("marks the settings whose values differ, a missing one included", () => {
    const rows = compareConfigs([{ epochs: 5, channels: [8, 16], a: 1 }, { epochs: 3, channels: [8, 16] }]);
    expect(rows.map((row) => [row.key, row.differs])).toEqual([
      ["a", true],
      ["channels", false],
      ["epochs", true],
    ]);
  });
});

describe("compareMetrics", () => {
  it("marks the best of each metric: lowest error, highest accuracy", () => {
    const rows = compareMetrics(
      [
        parseExperiment({ metrics: { rmse: 0.2, accuracy: 0.8 } }),
        parseExperiment({ metrics: { rmse: 0.3, accuracy: 0.9 } }),
      ],
      [undefined, undefined],
    );
    expect(rows.find((row) => row.name === "rmse")?.best).toBe(0.2);
    expect(rows.find((row) => row.name === "accuracy")?.best).toBe(0.9);
  });

  it("lists baselines and reference models by name after the runs' own rows, unmarked", () => {
    const rows = compareMetrics(
      [
        parseExperiment({
          metrics: { mae: 0.5 },
          baselines: { "seasonal naive": { values: { mae: 0.9 } } },
          references: { linear_ar: { values: { mae: 0.7 } } },
        }),
        parseExperiment({ metrics: { mae: 0.4 }, baselines: { "seasonal naive": { values: { mae: 0.8 } } } }),
      ],
      [undefined, undefined],
    );
    expect(rows.map((row) => [row.name, row.kind, row.values, row.best])).toEqual([
      ["mae", "model", [0.5, 0.4], 0.4],
      ["mae, seasonal naive baseline", "baseline", [0.9, 0.8], undefined],
      ["mae, linear_ar reference", "reference", [0.7, undefined], undefined],
    ]);
  });

  it("takes a resumed run's best loss from its curve, not from epochs it lost", () => {
    const history = [
      { seq: 1, epoch_ended: { epoch: 1, metrics: { loss: 0.9 } } },
      { seq: 2, epoch_ended: { epoch: 2, metrics: { loss: 0.5 } } },
      { seq: 3, epoch_ended: { epoch: 3, metrics: { loss: 0.1 } } },
      { seq: 4, experiment_resumed: { trainer_id: "trainer-2", from_epoch: 2, attempt: 2 } },
      { seq: 5, epoch_ended: { epoch: 3, metrics: { loss: 0.4 } } },
    ]
      .map(parseEvent)
      .reduce(applyEvent, EMPTY_HISTORY);
    const rows = compareMetrics([parseExperiment({})], [{ history, connection: "finished", reason: "", lastUpdate: null }]);
    expect(rows.find((row) => row.name === "best loss")?.values).toEqual([0.4]);
  });
});

describe("the compare page", () => {
  it("overlays the runs' curves and lays their configs and metrics side by side", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      "GET experiments": () => ({ json: { experiments: [A, B] } }),
      "GET experiments/aaaaaaaa-1": () => ({ json: A }),
      "GET experiments/bbbbbbbb-2": () => ({ json: B }),
    });
    renderApp("/compare?ids=aaaaaaaa-1,bbbbbbbb-2");
    await screen.findByRole("heading", { name: "Config" });
    for (const [id, losses] of [
      ["aaaaaaaa-1", [0.5, 0.3, 0.2]],
      ["bbbbbbbb-2", [0.6, 0.5]],
    ] as const) {
      const socket = FakeWebSocket.find(`/experiments/${id}/events`);
      act(() => {
        socket.open();
        losses.forEach((loss, index) =>
          socket.receive({ experiment_id: id, seq: index + 1, epoch_ended: { epoch: index + 1, metrics: { loss, val_loss: loss + 0.1 } } }),
        );
      });
    }
    await act(() => new Promise((resolve) => setTimeout(resolve, 60)));
    const charts = document.querySelectorAll("figure.chart");
    expect([...charts].map((chart) => chart.getAttribute("data-points"))).toEqual(["3", "3"]);
    expect(screen.getByRole("figure", { name: "loss" })).toBeInTheDocument();

    // Runs go by their names, the unnamed one by its pipeline; the id keeps them apart.
    expect(screen.getByRole("list", { name: "Runs and their colours" })).toHaveTextContent(
      "weather_forecaster · aaaaaaaa Succeededfewer epochs · bbbbbbbb Succeeded",
    );
    const headers = screen.getAllByRole("columnheader").filter((header) => header.querySelector("a"));
    expect(headers.map((header) => header.textContent)).toEqual([
      "weather_forecaster aaaaaaaa",
      "fewer epochs bbbbbbbb",
      "weather_forecaster aaaaaaaa",
      "fewer epochs bbbbbbbb",
    ]);
    expect(screen.getAllByRole("link", { name: "fewer epochs · bbbbbbbb" })[0]).toHaveAttribute("href", "/experiments/bbbbbbbb-2");

    const configs = screen.getByRole("table", { name: /Settings of each run/ });
    const epochs = within(configs).getByRole("rowheader", { name: /^epochs/ }).closest("tr") as HTMLElement;
    expect(epochs).toHaveAttribute("data-differs", "true");
    expect(epochs).toHaveTextContent("(differs)");
    // Only the settings that differ, at first; the rest on request.
    const onlyDiffering = screen.getByRole("checkbox", { name: "Only show settings that differ" });
    expect(onlyDiffering).toBeChecked();
    expect(screen.queryByRole("rowheader", { name: "lr" })).not.toBeInTheDocument();
    await userEvent.click(onlyDiffering);
    expect(screen.getByRole("rowheader", { name: "lr" }).closest("tr")).not.toHaveAttribute("data-differs");
    // Both tables are focusable, labelled scroll regions with the same run columns.
    for (const name of ["Settings of each run", "Metrics of each run"]) {
      const region = screen.getByRole("region", { name });
      expect(region).toHaveAttribute("tabindex", "0");
      expect(region.querySelectorAll("col")).toHaveLength(3);
    }

    const rmse = screen.getByRole("rowheader", { name: "rmse" }).closest("tr") as HTMLElement;
    expect(within(rmse).getByText("0.2")).toHaveTextContent("(best)");
    const bestLoss = screen.getByRole("rowheader", { name: "best loss" }).closest("tr") as HTMLElement;
    expect(bestLoss).toHaveTextContent("0.2 (best)0.5");
  });

  it("asks for two runs before comparing", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ "GET experiments": () => ({ json: { experiments: [A, B] } }), "GET experiments/aaaaaaaa-1": () => ({ json: A }) });
    renderApp("/compare");
    expect(await screen.findByText("Choose two or more runs above to compare them.")).toBeInTheDocument();
    await userEvent.click(await screen.findByRole("checkbox", { name: /aaaaaaaa/ }));
    expect(screen.getByText("Choose two or more runs above to compare them.")).toBeInTheDocument();
  });
});
