/**
 * The Predict tab of a succeeded experiment: ask its model, see the answer.
 *
 * A forecaster forecasts the steps after its data at a click (or from a window pasted as CSV),
 * drawn as a continuation of the series with the baselines beside it, and listed in a table.
 * An image classifier takes PNG or JPEG files, or a digit drawn on the pad, and shows each
 * image's likeliest classes. Which of the two an experiment is, the UI reads from its final
 * metrics: a classifier reports `accuracy`, a forecaster `rmse`.
 */

import { useEffect, useRef, useState, type PointerEvent } from "react";
import { ApiError } from "../api/http";
import {
  csvRows,
  predict,
  type ClassificationPrediction,
  type ForecastPrediction,
  type PredictionInput,
} from "../api/predictions";
import type { Experiment } from "../api/types";
import { Alert, errorText } from "./Alert";

const HISTORY_COLOR = "#1f5fbf";
const FORECAST_COLOR = "#c2410c";
const BASELINE_COLORS = ["#6b7280", "#15803d"];
const TOP_CLASSES = 3;

export function predictsClasses(experiment: Experiment): boolean {
  return "accuracy" in experiment.metrics;
}

export function PredictTab({ experiment }: { experiment: Experiment }) {
  return predictsClasses(experiment) ? (
    <ClassifyPanel id={experiment.id} />
  ) : (
    <ForecastPanel id={experiment.id} horizon={Number(experiment.config.horizon ?? 1)} />
  );
}

/** What a request ended with, for the panels: the answer, or the problem in words. */
function usePrediction<T>() {
  const [answer, setAnswer] = useState<T | null>(null);
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const ask = async (id: string, input: PredictionInput) => {
    setBusy(true);
    setProblem("");
    try {
      setAnswer((await predict(id, input)) as T);
    } catch (error) {
      setAnswer(null);
      setProblem(problemText(error));
    } finally {
      setBusy(false);
    }
  };
  return { answer, problem, busy, ask };
}

/** An error in words, with each field the API named (`inputs[3].temperature: ...`). */
export function problemText(error: unknown): string {
  if (error instanceof ApiError && error.details.length > 0) {
    return error.details.map((detail) => detail.message || detail.field).join("; ");
  }
  return errorText(error);
}

function ForecastPanel({ id, horizon }: { id: string; horizon: number }) {
  const { answer, problem, busy, ask } = usePrediction<ForecastPrediction>();
  const [windowText, setWindowText] = useState("");
  return (
    <div className="predict-view">
      <p>
        <button type="button" className="button" disabled={busy} onClick={() => ask(id, {})}>
          {busy ? "Forecasting…" : `Forecast the next ${horizon === 1 ? "step" : `${horizon} steps`}`}
        </button>
      </p>
      <details className="predict-window">
        <summary>Forecast from your own window</summary>
        <label htmlFor="predict-window-text">
          Rows as CSV, oldest first: a header naming each column the model reads (the series&apos;
          first, as in the run&apos;s <code>inputs.json</code>) and <code>timestamp</code> (needed when
          it reads the day of the year), then one row per step.
        </label>
        <textarea
          id="predict-window-text"
          rows={6}
          value={windowText}
          onChange={(event) => setWindowText(event.target.value)}
          placeholder={"timestamp,temp_max,temp_min,precipitation,wind\n2015-12-31,8.3,2.2,0.0,3.1"}
        />
        <button
          type="button"
          className="button"
          disabled={busy || windowText.trim() === ""}
          onClick={() => ask(id, { inputs: csvRows(windowText) })}
        >
          Forecast from this window
        </button>
      </details>
      {problem ? <Alert kind="error">The forecast failed: {problem}</Alert> : null}
      {answer ? <ForecastResult forecast={answer} /> : null}
    </div>
  );
}

function ForecastResult({ forecast }: { forecast: ForecastPrediction }) {
  const names = Object.keys(forecast.baselines);
  const { name, unit } = forecast.series;
  return (
    <>
      <ForecastChart forecast={forecast} />
      <table className="config-table" data-testid="forecast-table">
        <caption>
          {name} in {unit}:{" "}
          {forecast.from === "end of data"
            ? "the steps after the end of the data"
            : `${forecast.horizon} step(s) after your window`}
        </caption>
        <thead>
          <tr>
            <th scope="col">time</th>
            <th scope="col">forecast</th>
            {names.map((baseline) => (
              <th scope="col" key={baseline}>
                {baseline}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {forecast.forecast.values.map((value, index) => (
            <tr key={index}>
              <th scope="row" className="mono">
                {forecast.forecast.timestamps[index] ?? `+${forecast.horizon} steps`}
              </th>
              <td className="mono">{shown(value)}</td>
              {names.map((baseline) => (
                <td className="mono" key={baseline}>
                  {shown(forecast.baselines[baseline]?.[index])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** A value to two decimals; "–" for none (a model that diverged forecasts NaN). */
function shown(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(2);
}

/** Where each forecast falls on the history's step axis: just after it, `horizon` ahead. */
export function forecastSteps(forecast: ForecastPrediction): number[] {
  const last = forecast.history.values.length - 1;
  const count = forecast.forecast.values.length;
  return forecast.forecast.values.map((_, index) => last + forecast.horizon - (count - 1 - index));
}

/** The series' end and its continuation, as an SVG line chart with the baselines' points. */
export function ForecastChart({ forecast }: { forecast: ForecastPrediction }) {
  const width = 640;
  const height = 240;
  const pad = 36;
  const history = forecast.history.values;
  const steps = forecastSteps(forecast);
  const baselineValues = Object.values(forecast.baselines).flat();
  const all = [...history, ...forecast.forecast.values, ...baselineValues].filter(Number.isFinite);
  const low = Math.min(...all);
  const high = Math.max(...all);
  const span = high - low || 1;
  const lastStep = Math.max(history.length - 1, ...steps, 1);
  const x = (step: number) => pad + (step / lastStep) * (width - 2 * pad);
  const y = (value: number) => height - pad - ((value - low) / span) * (height - 2 * pad);
  const line = (pairs: [number, number][]) =>
    pairs
      .filter(([, v]) => Number.isFinite(v))
      .map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`)
      .join(" ");
  const lastHistory: [number, number] = [history.length - 1, history[history.length - 1] ?? 0];
  const predicted = forecast.forecast.values;
  const continued: [number, number][] = [lastHistory, ...steps.map((s, i): [number, number] => [s, predicted[i] ?? 0])];
  const { name, unit } = forecast.series;
  return (
    <figure className="forecast-chart" data-testid="forecast-chart">
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${name} in ${unit}: the last ${history.length} steps and the forecast after them`}
      >
        <line x1={pad} x2={width - pad} y1={height - pad} y2={height - pad} stroke="#d1d5db" />
        <text x={4} y={y(high) + 4} fontSize="11">
          {high.toFixed(1)}
        </text>
        <text x={4} y={y(low) + 4} fontSize="11">
          {low.toFixed(1)}
        </text>
        <polyline
          data-series="history"
          fill="none"
          stroke={HISTORY_COLOR}
          strokeWidth={2}
          points={line(history.map((v, i): [number, number] => [i, v]))}
        />
        <polyline
          data-series="forecast"
          fill="none"
          stroke={FORECAST_COLOR}
          strokeWidth={2}
          strokeDasharray="5 3"
          points={line(continued)}
        />
        {steps.map((step, index) =>
          Number.isFinite(predicted[index]) ? (
            <circle key={step} cx={x(step)} cy={y(predicted[index] ?? 0)} r={3.5} fill={FORECAST_COLOR} />
          ) : null,
        )}
        {Object.entries(forecast.baselines).map(([baseline, values], which) =>
          values.map((value, index) =>
            Number.isFinite(value) ? (
            <rect
              key={`${baseline}-${index}`}
              data-series={baseline}
              x={x(steps[index] ?? 0) - 3}
              y={y(value) - 3}
              width={6}
              height={6}
              fill={BASELINE_COLORS[which % BASELINE_COLORS.length]}
            />
            ) : null,
          ),
        )}
      </svg>
      <figcaption className="small">
        <span style={{ color: HISTORY_COLOR }}>━ {name}</span>{" "}
        <span style={{ color: FORECAST_COLOR }}>╍ forecast</span>{" "}
        {Object.keys(forecast.baselines).map((baseline, which) => (
          <span key={baseline} style={{ color: BASELINE_COLORS[which % BASELINE_COLORS.length] }}>
            ■ {baseline}{" "}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}

function ClassifyPanel({ id }: { id: string }) {
  const { answer, problem, busy, ask } = usePrediction<ClassificationPrediction>();
  const [files, setFiles] = useState<File[]>([]);
  const [names, setNames] = useState<string[]>([]);
  const classify = (images: Blob[], labels: string[]) => {
    setNames(labels);
    void ask(id, { images });
  };
  return (
    <div className="predict-view">
      <p>
        <label htmlFor="predict-images">PNG or JPEG images: each is resized to the training images&apos; size.</label>{" "}
        <input
          id="predict-images"
          type="file"
          accept="image/png,image/jpeg"
          multiple
          onChange={(event) => setFiles(Array.from(event.target.files ?? []))}
        />{" "}
        <button
          type="button"
          className="button"
          disabled={busy || files.length === 0}
          onClick={() => classify(files, files.map((file) => file.name))}
        >
          {busy ? "Classifying…" : "Classify"}
        </button>
      </p>
      <DrawingPad disabled={busy} onDrawn={(image) => classify([image], ["your drawing"])} />
      {problem ? <Alert kind="error">The classification failed: {problem}</Alert> : null}
      {answer ? <ClassList answer={answer} names={names} /> : null}
    </div>
  );
}

function ClassList({ answer, names }: { answer: ClassificationPrediction; names: string[] }) {
  return (
    <ol className="class-list" data-testid="class-list">
      {answer.predictions.map((prediction, index) => {
        const ranked = prediction.probabilities
          .map((probability, k) => ({ name: answer.classes[k], probability }))
          .sort((a, b) => b.probability - a.probability)
          .slice(0, TOP_CLASSES);
        return (
          <li key={index}>
            <strong>{names[index] ?? `image ${index + 1}`}</strong>: {prediction.label}
            <ul>
              {ranked.map((item) => (
                <li key={item.name}>
                  <span className="mono">{item.name}</span>{" "}
                  <meter min={0} max={1} value={item.probability} aria-label={`class ${item.name}`} />{" "}
                  {(item.probability * 100).toFixed(1)} %
                </li>
              ))}
            </ul>
          </li>
        );
      })}
    </ol>
  );
}

/** A square to draw a digit on with the mouse, a finger or a pen, sent as a PNG. */
function DrawingPad({ disabled, onDrawn }: { disabled: boolean; onDrawn: (image: Blob) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawing = useRef(false);
  const [supported, setSupported] = useState(true);
  const [empty, setEmpty] = useState(true);

  const clear = () => {
    const context = canvas.current?.getContext("2d");
    if (!context || !canvas.current) return;
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.current.width, canvas.current.height);
    setEmpty(true);
  };
  useEffect(() => {
    // jsdom and very old browsers draw nothing: then the pad is left out.
    const context = canvas.current?.getContext?.("2d") ?? null;
    setSupported(context !== null);
    if (context) clear();
  }, []);

  const point = (event: PointerEvent<HTMLCanvasElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    const scale = event.currentTarget.width / box.width;
    return [(event.clientX - box.left) * scale, (event.clientY - box.top) * scale] as const;
  };
  const start = (event: PointerEvent<HTMLCanvasElement>) => {
    const context = event.currentTarget.getContext("2d");
    if (!context) return;
    drawing.current = true;
    event.currentTarget.setPointerCapture(event.pointerId);
    const [px, py] = point(event);
    context.lineWidth = 14;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#000000";
    context.beginPath();
    context.moveTo(px, py);
  };
  const move = (event: PointerEvent<HTMLCanvasElement>) => {
    if (!drawing.current) return;
    const context = event.currentTarget.getContext("2d");
    const [px, py] = point(event);
    context?.lineTo(px, py);
    context?.stroke();
    setEmpty(false);
  };
  const send = () => canvas.current?.toBlob((blob) => blob && onDrawn(blob), "image/png");

  if (!supported) return null;
  return (
    <div className="drawing-pad">
      <canvas
        ref={canvas}
        width={140}
        height={140}
        aria-label="Drawing pad: draw a digit"
        onPointerDown={start}
        onPointerMove={move}
        onPointerUp={() => (drawing.current = false)}
        onPointerLeave={() => (drawing.current = false)}
      />
      <div>
        <button type="button" className="button" disabled={disabled || empty} onClick={send}>
          Classify the drawing
        </button>{" "}
        <button type="button" className="button button-quiet" onClick={clear}>
          Clear
        </button>
      </div>
    </div>
  );
}
