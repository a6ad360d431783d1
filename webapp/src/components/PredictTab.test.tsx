import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { csvRows, parsePrediction, type ForecastPrediction } from "../api/predictions";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";
import { forecastSteps } from "./PredictTab";

const ID = "dddddddd-0004";
const PREDICTIONS = `POST experiments/${ID}/predictions`;

const FORECAST = {
  experiment_id: ID,
  pipeline: "weather_forecaster",
  prediction: {
    kind: "forecast",
    from: "end of data",
    series: { name: "temperature", unit: "°C", frequency: "h" },
    lookback: 3.0,
    horizon: 2.0,
    history: {
      timestamps: ["2010-01-31T21:00:00", "2010-01-31T22:00:00", "2010-01-31T23:00:00"],
      values: [4.0, 4.5, 5.0],
    },
    forecast: { timestamps: ["2010-02-01T00:00:00", "2010-02-01T01:00:00"], values: [5.25, 5.5] },
    baselines: { persistence: [4.5, 5.0], "seasonal naive": [3.0, 3.5] },
  },
};

const CLASSES = {
  experiment_id: ID,
  pipeline: "image_classifier",
  prediction: {
    kind: "classification",
    classes: ["0", "1", "2"],
    image_shape: [1.0, 8.0, 8.0],
    predictions: [{ label: "1", probability: 0.7, probabilities: [0.1, 0.7, 0.2], inverted: true }],
  },
};

async function openPredictTab(experiment: Record<string, unknown>) {
  FakeWebSocket.install();
  await startSession();
  renderApp(`/experiments/${ID}?tab=predict`);
  await screen.findByRole("heading", { name: new RegExp(`${experiment.pipeline} dddddddd`) });
}

describe("the Predict tab", () => {
  it("forecasts the steps after the data and draws them after the series, beside the baselines", async () => {
    const experiment = wireExperiment({ experiment_id: ID, config: { horizon: 2 } });
    const api = fakeApi({ [`GET experiments/${ID}`]: () => ({ json: experiment }), [PREDICTIONS]: () => ({ json: FORECAST }) });
    await openPredictTab(experiment);

    await userEvent.click(await screen.findByRole("button", { name: "Forecast the next 2 steps" }));

    const table = await screen.findByTestId("forecast-table");
    const rows = within(table).getAllByRole("row").map((row) => row.textContent);
    expect(rows).toEqual([
      "timeforecastpersistenceseasonal naive",
      "2010-02-01T00:00:005.254.503.00",
      "2010-02-01T01:00:005.505.003.50",
    ]);
    expect(api.calls.find((call) => call.method === "POST")?.body).toEqual({});
    const chart = screen.getByTestId("forecast-chart");
    expect(chart.querySelector('[data-series="history"]')?.getAttribute("points")?.split(" ")).toHaveLength(3);
    // The forecast line starts at the series' last point and goes through both forecasts.
    expect(chart.querySelector('[data-series="forecast"]')?.getAttribute("points")?.split(" ")).toHaveLength(3);
    expect(chart.querySelectorAll('[data-series="persistence"]')).toHaveLength(2);
  });

  it("sends a pasted CSV window as rows and shows the field the API names", async () => {
    const experiment = wireExperiment({ experiment_id: ID, config: { horizon: 1 } });
    const api = fakeApi({
      [`GET experiments/${ID}`]: () => ({ json: experiment }),
      [PREDICTIONS]: () => ({
        status: 422,
        json: {
          error: {
            code: "invalid_argument",
            message: "the inputs do not fit the model: inputs[1].temperature: must be a finite number, got None",
            details: [{ field: "inputs[1].temperature", message: "inputs[1].temperature: must be a finite number, got None" }],
          },
        },
      }),
    });
    await openPredictTab(experiment);

    await userEvent.click(await screen.findByText("Forecast from your own window"));
    await userEvent.type(screen.getByRole("textbox"), "timestamp,temperature\n2011-01-01T00:00,4\n2011-01-01T01:00,");
    await userEvent.click(screen.getByRole("button", { name: "Forecast from this window" }));

    expect(await screen.findByRole("alert")).toHaveTextContent(
      "The forecast failed: inputs[1].temperature: must be a finite number, got None",
    );
    expect(api.calls.find((call) => call.method === "POST")?.body).toEqual({
      inputs: [
        { timestamp: "2011-01-01T00:00", temperature: 4 },
        { timestamp: "2011-01-01T01:00", temperature: null },
      ],
    });
  });

  it("uploads images as a multipart form and lists each one's likeliest classes", async () => {
    const experiment = wireExperiment({
      experiment_id: ID,
      pipeline: "image_classifier",
      metrics: { loss: 0.3, accuracy: 0.9 },
    });
    const api = fakeApi({ [`GET experiments/${ID}`]: () => ({ json: experiment }), [PREDICTIONS]: () => ({ json: CLASSES }) });
    await openPredictTab(experiment);

    const file = new File([new Uint8Array([137, 80, 78, 71])], "three.png", { type: "image/png" });
    await userEvent.upload(await screen.findByLabelText(/PNG or JPEG images/), file);
    await userEvent.click(screen.getByRole("button", { name: "Classify" }));

    const list = await screen.findByTestId("class-list");
    expect(list).toHaveTextContent(/^three\.png: 1/);
    expect(within(list).getAllByRole("listitem").slice(1).map((item) => item.textContent?.replace(/\s+/g, " "))).toEqual([
      "1 70.0 %",
      "2 20.0 %",
      "0 10.0 %",
    ]);
    const body = api.calls.find((call) => call.method === "POST")?.body;
    expect(body).toBeInstanceOf(FormData);
    expect((body as FormData).getAll("image")).toHaveLength(1);
  });

  it("is there only for a succeeded experiment", async () => {
    const experiment = wireExperiment({ experiment_id: ID, status: "EXPERIMENT_STATUS_FAILED" });
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: experiment }) });
    await openPredictTab(experiment);

    expect(screen.queryByRole("tab", { name: "Predict" })).not.toBeInTheDocument();
    expect(screen.getByRole("tab", { name: "Progress" })).toHaveAttribute("aria-selected", "true");
  });
});

describe("reading predictions", () => {
  it("places a window's one forecast horizon steps after its last row", () => {
    const forecast = parsePrediction({
      ...FORECAST.prediction,
      from: "inputs",
      horizon: 3,
      forecast: { timestamps: [null], values: [6] },
    }) as ForecastPrediction;
    expect(forecastSteps(forecast)).toEqual([5]);
    expect(forecast.forecast.timestamps).toEqual([null]);
    expect(forecastSteps(parsePrediction(FORECAST.prediction) as ForecastPrediction)).toEqual([3, 4]);
  });

  it("reads a forecast the API wrote as null (a diverged model) as not a number", () => {
    const forecast = parsePrediction({
      ...FORECAST.prediction,
      forecast: { timestamps: FORECAST.prediction.forecast.timestamps, values: [null, 5.5] },
    }) as ForecastPrediction;
    expect(forecast.forecast.values[0]).toBeNaN();
    expect(forecast.forecast.values[1]).toBe(5.5);
  });

  it("reads CSV cells as numbers, text, or null when empty", () => {
    expect(csvRows("t,v\n\na,1.5\nb,\n")).toEqual([
      { t: "a", v: 1.5 },
      { t: "b", v: null },
    ]);
    expect(csvRows("")).toEqual([]);
  });
});
