/**
 * Runs side by side: pick two or more, see their curves overlaid (one chart per metric, one
 * colour per run), their configs with the settings that differ marked, and their metrics with
 * the best of each row marked. The chosen runs are in the URL (`?ids=a,b`), so a comparison
 * can be shared; running runs keep updating.
 */

import { useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { getExperiment, listExperiments } from "../api/experiments";
import type { Experiment } from "../api/types";
import { Alert, errorText } from "../components/Alert";
import { MetricChart, type ChartSeries } from "../components/MetricChart";
import { StatusBadge } from "../components/StatusBadge";
import {
  formatDateTime,
  formatDuration,
  formatMetric,
  formatValue,
  higherIsBetter,
  runLabel,
  runName,
  runSeconds,
  shortId,
} from "../format";
import { useExperimentsEvents, type RunStream } from "../hooks/useExperimentEvents";
import { usePageTitle } from "../hooks/usePageTitle";
import { useQueryParams } from "../hooks/useQueryParams";
import { useResource } from "../hooks/useResource";
import { metricNames } from "../hooks/runHistory";
import { matchesSearch } from "./ExperimentsPage";
import { ScrollRegion } from "../components/ScrollRegion";

/** Colours told apart by most forms of colour blindness (Okabe & Ito), then a few more. */
export const RUN_COLORS = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#8c564b"];

export function runColor(index: number): string {
  return RUN_COLORS[index % RUN_COLORS.length] as string;
}

export interface ConfigRow {
  key: string;
  values: unknown[];
  differs: boolean;
}

/** Every setting of any run, each with every run's value and whether they differ. */
export function compareConfigs(configs: Record<string, unknown>[]): ConfigRow[] {
  const keys: string[] = [];
  for (const config of configs) for (const key of Object.keys(config)) if (!keys.includes(key)) keys.push(key);
  return keys.sort().map((key) => {
    const values = configs.map((config) => (key in config ? config[key] : undefined));
    const shown = values.map((value) => (value === undefined ? "\u0000absent" : JSON.stringify(value)));
    return { key, values, differs: new Set(shown).size > 1 };
  });
}

export interface MetricRow {
  name: string;
  /** What the row scores: the runs' own models, or a baseline's or reference model's. */
  kind: "model" | "baseline" | "reference";
  values: Array<number | undefined>;
  best: number | undefined;
}

const KIND_ORDER: MetricRow["kind"][] = ["model", "baseline", "reference"];

/**
 * The runs' final metrics and their best training and validation losses, best of each marked,
 * then each baseline's and reference model's metrics (`mae, seasonal naive baseline`), unmarked:
 * they say what each run's data allowed, not how well a run did.
 */
export function compareMetrics(experiments: Experiment[], streams: Array<RunStream | undefined>): MetricRow[] {
  const perRun = experiments.map((experiment, index) => {
    const values: Record<string, number> = {};
    const epochs = streams[index]?.history.epochs ?? [];
    for (const name of ["loss", "val_loss"]) {
      const seen = epochs.map((point) => point.metrics[name]).filter((value): value is number => value !== undefined);
      if (seen.length) values[`best ${name}`] = Math.min(...seen);
    }
    return { ...values, ...experiment.metrics };
  });
  const kinds = new Map<string, MetricRow["kind"]>();
  for (const name of perRun.flatMap((values) => Object.keys(values))) kinds.set(name, "model");
  const others = experiments.map((experiment) => {
    const values: Record<string, number> = {};
    for (const [kind, byName] of [
      ["baseline", experiment.baselines],
      ["reference", experiment.references],
    ] as const) {
      for (const [model, scores] of Object.entries(byName)) {
        for (const [metric, value] of Object.entries(scores)) {
          const name = `${metric}, ${model} ${kind}`;
          kinds.set(name, kind);
          values[name] = value;
        }
      }
    }
    return values;
  });
  const names = [...kinds.keys()].sort((a, b) => {
    const rank = (name: string) =>
      name.startsWith("best ") ? 0 : 1 + KIND_ORDER.indexOf(kinds.get(name) as MetricRow["kind"]);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  return names.map((name) => {
    const kind = kinds.get(name) as MetricRow["kind"];
    const values = experiments.map((_, index) => perRun[index]?.[name] ?? others[index]?.[name]);
    const present = values.filter((value): value is number => value !== undefined && Number.isFinite(value));
    const best =
      present.length > 1 && kind === "model"
        ? higherIsBetter(name.replace(/^best /, ""))
          ? Math.max(...present)
          : Math.min(...present)
        : undefined;
    return { name, kind, values, best };
  });
}

export function ComparePage() {
  usePageTitle("Compare runs");
  const [params, setParam] = useQueryParams();
  const ids = useMemo(
    () => (params.get("ids") ?? "").split(",").map((id) => id.trim()).filter(Boolean),
    [params],
  );
  const setIds = (next: string[]) => setParam("ids", next.join(","));
  const toggle = (id: string) => setIds(ids.includes(id) ? ids.filter((other) => other !== id) : [...ids, id]);

  const recent = useResource((signal) => listExperiments({ pageSize: 100 }, signal), []);
  const chosen = useResource(
    (signal) => Promise.all(ids.map((id) => getExperiment(id, signal))),
    [ids.join(",")],
  );
  const streams = useExperimentsEvents(ids);
  // A run that finishes has final metrics and times to show: read the runs again then.
  const finishedRuns = ids.filter((id) => streams[id]?.history.finished).length;
  const { reload } = chosen;
  useEffect(() => {
    if (finishedRuns > 0) reload();
  }, [finishedRuns, reload]);
  const experiments = chosen.data ?? [];
  const comparing = ids.length >= 2 && experiments.length === ids.length;

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Compare runs</h1>
      </div>
      <RunPicker
        experiments={recent.data?.experiments ?? []}
        loading={recent.loading}
        error={recent.error}
        chosen={ids}
        onToggle={toggle}
      />
      {chosen.error ? <Alert kind="error">The chosen runs could not be loaded: {errorText(chosen.error)}</Alert> : null}
      {ids.length < 2 ? (
        <p className="muted">Choose two or more runs above to compare them.</p>
      ) : !comparing ? (
        chosen.error ? null : (
          <p className="muted" role="status">
            Loading the runs…
          </p>
        )
      ) : (
        <Comparison experiments={experiments} streams={ids.map((id) => streams[id])} />
      )}
    </>
  );
}

function RunPicker({
  experiments,
  loading,
  error,
  chosen,
  onToggle,
}: {
  experiments: Experiment[];
  loading: boolean;
  error: Error | null;
  chosen: string[];
  onToggle: (id: string) => void;
}) {
  const [search, setSearch] = useState("");
  const shown = experiments.filter((experiment) => chosen.includes(experiment.id) || matchesSearch(experiment, search));
  return (
    <details className="run-picker" open={chosen.length < 2}>
      <summary>
        Runs to compare <span className="muted">({chosen.length} chosen)</span>
      </summary>
      <div className="field">
        <label htmlFor="compare-search">Find runs</label>
        <input
          id="compare-search"
          type="search"
          value={search}
          placeholder="name, id, pipeline, owner or setting"
          onChange={(event) => setSearch(event.target.value)}
        />
      </div>
      {error ? <Alert kind="error">The runs could not be listed: {errorText(error)}</Alert> : null}
      {loading && experiments.length === 0 ? <p className="muted">Loading runs…</p> : null}
      <fieldset className="run-options">
        <legend className="visually-hidden">Runs</legend>
        {shown.map((experiment) => (
          <label key={experiment.id} className="run-option">
            <input type="checkbox" checked={chosen.includes(experiment.id)} onChange={() => onToggle(experiment.id)} />
            <span className="run-option-name">{runLabel(experiment)}</span>
            <StatusBadge status={experiment.status} />
            <span className="muted small">{formatDateTime(experiment.createdAt)}</span>
          </label>
        ))}
        {!loading && shown.length === 0 ? <p className="muted">No run matches.</p> : null}
      </fieldset>
    </details>
  );
}

function Comparison({ experiments, streams }: { experiments: Experiment[]; streams: Array<RunStream | undefined> }) {
  const [onlyDifferences, setOnlyDifferences] = useState(true);
  const names = useMemo(
    () => metricNames(streams.flatMap((stream) => stream?.history.epochs ?? [])),
    [streams],
  );
  const configRows = compareConfigs(experiments.map((experiment) => experiment.config));
  const metricRows = compareMetrics(experiments, streams);
  const differing = configRows.filter((row) => row.differs).length;
  const now = Date.now();

  // The same columns in both tables, so each run's values line up from Config to Metrics.
  const columns = (
    <colgroup>
      <col className="compare-name-col" />
      {experiments.map((experiment) => (
        <col key={experiment.id} />
      ))}
    </colgroup>
  );
  const tableWidth = { minWidth: `calc(13rem + ${experiments.length} * 9rem)` };

  const header = (
    <thead>
      <tr>
        <th scope="col">
          <span className="visually-hidden">Name</span>
        </th>
        {experiments.map((experiment, index) => (
          <th scope="col" key={experiment.id}>
            <span className="swatch" style={{ background: runColor(index) }} aria-hidden="true" />
            <Link to={`/experiments/${encodeURIComponent(experiment.id)}`} aria-label={runLabel(experiment)}>
              {runName(experiment)}
            </Link>{" "}
            <span className="mono muted small">{shortId(experiment.id)}</span>
          </th>
        ))}
      </tr>
    </thead>
  );

  return (
    <>
      <h2 className="section-title">Curves</h2>
      <ul className="legend" aria-label="Runs and their colours">
        {experiments.map((experiment, index) => (
          <li key={experiment.id}>
            <span className="swatch" style={{ background: runColor(index) }} aria-hidden="true" />
            {runLabel(experiment)} <StatusBadge status={streams[index]?.history.finished?.status ?? experiment.status} />
          </li>
        ))}
      </ul>
      <div className="charts">
        {names.length === 0 ? <p className="muted">None of these runs has finished an epoch yet.</p> : null}
        {names.map((name) => {
          const series: ChartSeries[] = experiments.map((experiment, index) => ({
            label: runLabel(experiment),
            color: runColor(index),
            points: (streams[index]?.history.epochs ?? [])
              .filter((point) => name in point.metrics)
              .map((point) => [point.epoch, point.metrics[name] as number]),
          }));
          return <MetricChart key={name} title={name} series={series} xMax={Math.max(...experiments.map((e) => e.totalEpochs))} />;
        })}
      </div>

      <h2 className="section-title">Config</h2>
      <div className="table-tools">
        <p className="muted">
          {differing === 0 ? "The runs have the same settings." : `${differing} setting${differing === 1 ? "" : "s"} differ.`}
        </p>
        <label className="checkbox-row">
          <input type="checkbox" checked={onlyDifferences} onChange={(event) => setOnlyDifferences(event.target.checked)} />
          Only show settings that differ
        </label>
      </div>
      <ScrollRegion label="Settings of each run">
        <table className="compare-table config-compare" style={tableWidth}>
          {columns}
          <caption className="visually-hidden">Settings of each run; rows marked “differs” are not the same in every run</caption>
          {header}
          <tbody>
            <tr>
              <th scope="row">pipeline</th>
              {experiments.map((experiment) => (
                <td key={experiment.id}>{experiment.pipeline}</td>
              ))}
            </tr>
            {configRows
              .filter((row) => row.differs || !onlyDifferences)
              .map((row) => (
                <tr key={row.key} className={row.differs ? "differs" : undefined} data-differs={row.differs || undefined}>
                  <th scope="row" className="mono">
                    {row.key}
                    {row.differs ? (
                      <span className="differs-tag">
                        <span aria-hidden="true">≠</span>
                        <span className="visually-hidden"> (differs)</span>
                      </span>
                    ) : null}
                  </th>
                  {row.values.map((value, index) => (
                    <td key={experiments[index]?.id} className="mono">
                      {value === undefined ? <span className="muted">–</span> : formatValue(value)}
                    </td>
                  ))}
                </tr>
              ))}
          </tbody>
        </table>
      </ScrollRegion>

      <h2 className="section-title">Metrics</h2>
      <ScrollRegion label="Metrics of each run">
        <table className="compare-table metrics-compare" style={tableWidth}>
          {columns}
          <caption className="visually-hidden">Metrics of each run; the best of each row is marked</caption>
          {header}
          <tbody>
            <tr>
              <th scope="row">status</th>
              {experiments.map((experiment, index) => (
                <td key={experiment.id}>
                  <StatusBadge status={streams[index]?.history.finished?.status ?? experiment.status} />
                </td>
              ))}
            </tr>
            <tr>
              <th scope="row">epochs</th>
              {experiments.map((experiment, index) => {
                const done = streams[index]?.history.epochs.length ?? experiment.epochsDone;
                return <td key={experiment.id}>{`${done} / ${experiment.totalEpochs || "?"}`}</td>;
              })}
            </tr>
            <tr>
              <th scope="row">duration</th>
              {experiments.map((experiment) => {
                const seconds = runSeconds(experiment, now);
                return <td key={experiment.id}>{seconds === null ? "–" : formatDuration(seconds)}</td>;
              })}
            </tr>
            {metricRows.map((row) => (
              <tr key={row.name}>
                <th scope="row" className="mono">
                  {row.name}
                </th>
                {row.values.map((value, index) => {
                  const best = value !== undefined && value === row.best;
                  return (
                    <td key={experiments[index]?.id} className={best ? "best" : undefined}>
                      {formatMetric(value)}
                      {best ? <span className="visually-hidden"> (best)</span> : null}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollRegion>
    </>
  );
}
