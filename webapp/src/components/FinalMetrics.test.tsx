import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { FinalMetrics, metricTable } from "./FinalMetrics";

const SCORES = {
  metrics: { rmse: 1.2, mae: 0.9 },
  baselines: { "seasonal naive": { rmse: 1.5, mae: 1.1 }, persistence: { rmse: 1.4 } },
  references: { linear_ar: { rmse: 1.1, mae: 1.0 } },
};

describe("metricTable", () => {
  it("puts the model first, then the baselines, then the reference models, by name", () => {
    const table = metricTable(SCORES);
    expect(table.columns).toEqual(["model", "persistence", "seasonal naive", "linear_ar (reference)"]);
    expect(table.metrics).toEqual(["mae", "rmse"]);
    expect(table.values["linear_ar (reference)"]).toEqual({ rmse: 1.1, mae: 1.0 });
  });
});

describe("FinalMetrics", () => {
  it("shows names as they are and marks the best of each row, a reference model's included", () => {
    render(<FinalMetrics scores={SCORES} />);
    const table = screen.getByRole("table");
    const headers = within(table).getAllByRole("columnheader").map((cell) => cell.textContent);
    expect(headers).toEqual(["metric", "model", "persistence", "seasonal naive", "linear_ar (reference)"]);
    const rmse = within(table).getByRole("row", { name: /^rmse/ });
    expect(within(rmse).getByText("(best)").parentElement?.textContent).toContain("1.1");
  });
});
