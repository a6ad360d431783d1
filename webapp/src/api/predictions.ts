/**
 * Predictions from a succeeded experiment's model (`POST experiments/{id}/predictions`).
 *
 * A forecaster answers with the recent history, its forecasts and the baselines' forecasts of
 * the same steps; an image classifier with each image's class probabilities. The answer's
 * `kind` says which; both are read here into typed values, once. The answer is a
 * `PredictResponse`, whose `prediction` is a free-form Struct: its shape is the pipeline's, not
 * the .proto's, so its inside is read by hand.
 */

import { PredictResponseSchema } from "../gen/azuraforge/v1/scheduler_pb";
import { requestJson } from "./http";
import { asArray, asNumber, asObject, asString, type Json } from "./json";
import { readMessage } from "./messages";

export interface Points {
  /** ISO times without a zone, or null where the caller's rows had none. */
  timestamps: (string | null)[];
  values: number[];
}

export interface ForecastPrediction {
  kind: "forecast";
  /** "end of data": the steps after the series; "inputs": from the caller's window. */
  from: string;
  series: { name: string; unit: string; frequency: string };
  horizon: number;
  lookback: number;
  history: Points;
  forecast: Points;
  baselines: Record<string, number[]>;
}

export interface ImageClasses {
  label: string;
  probability: number;
  /** In the order of `classes`; they sum to 1. */
  probabilities: number[];
  /** Whether the file was inverted to light ink on a dark ground, as the training images. */
  inverted: boolean;
}

export interface ClassificationPrediction {
  kind: "classification";
  classes: string[];
  imageShape: number[];
  predictions: ImageClasses[];
}

export type Prediction = ForecastPrediction | ClassificationPrediction;

/** What to ask: the pipeline's default, JSON inputs, or image files. */
export type PredictionInput = { inputs?: unknown } | { images: Blob[] };

export async function predict(id: string, input: PredictionInput = {}): Promise<Prediction> {
  const path = `experiments/${encodeURIComponent(id)}/predictions`;
  let data: unknown;
  if ("images" in input) {
    const form = new FormData();
    input.images.forEach((image, index) => form.append("image", image, fileName(image, index)));
    data = await requestJson(path, { method: "POST", form });
  } else {
    data = await requestJson(path, { method: "POST", json: input });
  }
  return parsePrediction(readMessage(PredictResponseSchema, data).prediction);
}

function fileName(image: Blob, index: number): string {
  return image instanceof File && image.name ? image.name : `image-${index + 1}.png`;
}

/** Numbers; null (a forecast that is not finite, as the API writes it) is NaN. */
function numbers(value: unknown): number[] {
  return asArray(value).map((item) => (item === null ? Number.NaN : asNumber(item)));
}

function points(value: unknown): Points {
  const raw = asObject(value);
  return {
    timestamps: asArray(raw.timestamps).map((item) => (typeof item === "string" ? item : null)),
    values: numbers(raw.values),
  };
}

export function parsePrediction(value: unknown): Prediction {
  const raw: Json = asObject(value);
  if (raw.kind === "classification") {
    return {
      kind: "classification",
      classes: asArray(raw.classes).map(asString),
      imageShape: numbers(raw.image_shape),
      predictions: asArray(raw.predictions).map((item) => {
        const one = asObject(item);
        return {
          label: asString(one.label),
          probability: asNumber(one.probability),
          probabilities: numbers(one.probabilities),
          inverted: one.inverted === true,
        };
      }),
    };
  }
  const series = asObject(raw.series);
  const baselines: Record<string, number[]> = {};
  // The answer travels as a protobuf Struct, which keeps no order: the baselines by name.
  const named = Object.entries(asObject(raw.baselines)).sort(([a], [b]) => a.localeCompare(b));
  for (const [name, values] of named) baselines[name] = numbers(values);
  return {
    kind: "forecast",
    from: asString(raw.from),
    series: { name: asString(series.name), unit: asString(series.unit), frequency: asString(series.frequency) },
    horizon: asNumber(raw.horizon),
    lookback: asNumber(raw.lookback),
    history: points(raw.history),
    forecast: points(raw.forecast),
    baselines,
  };
}

/**
 * A window typed or pasted as CSV (a header naming the series' column, optionally `timestamp`)
 * as the rows the API takes: numbers where a cell reads as one, null for an empty cell.
 */
export function csvRows(text: string): Record<string, string | number | null>[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length === 0) return [];
  const header = (lines[0] ?? "").split(",").map((cell) => cell.trim());
  return lines.slice(1).map((line) => {
    const cells = line.split(",");
    const row: Record<string, string | number | null> = {};
    header.forEach((name, index) => {
      const cell = (cells[index] ?? "").trim();
      row[name] = cell === "" ? null : Number.isNaN(Number(cell)) ? cell : Number(cell);
    });
    return row;
  });
}
