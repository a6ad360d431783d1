/**
 * A finished run's test metrics beside its baselines' and reference models', one row per metric,
 * the best value of each row marked.
 */

import { formatMetric, higherIsBetter } from "../format";
import { ScrollRegion } from "./ScrollRegion";

/** The model's test metrics, and each baseline's and reference model's by its name. */
export interface FinalScores {
  metrics: Record<string, number>;
  baselines: Record<string, Record<string, number>>;
  references: Record<string, Record<string, number>>;
}

export interface MetricTable {
  metrics: string[];
  columns: string[];
  /** values[column][metric] */
  values: Record<string, Record<string, number>>;
}

/** One column for the model, then one per baseline, then one per reference model (so marked). */
export function metricTable({ metrics, baselines, references }: FinalScores): MetricTable {
  const values: Record<string, Record<string, number>> = { model: metrics };
  for (const name of Object.keys(baselines).sort()) values[name] = baselines[name] as Record<string, number>;
  for (const name of Object.keys(references).sort()) {
    values[`${name} (reference)`] = references[name] as Record<string, number>;
  }
  return { metrics: Object.keys(metrics).sort(), columns: Object.keys(values), values };
}

export function FinalMetrics({ scores }: { scores: FinalScores }) {
  const table = metricTable(scores);
  if (table.metrics.length === 0) return null;
  return (
    <>
      <h2 className="section-title">Test metrics</h2>
      {table.columns.length > 1 ? (
        <p className="muted">
          Beside the baselines the model has to beat and any reference models; the best of each row is marked.
        </p>
      ) : null}
      <ScrollRegion label="The run's final metrics">
        <table className="metrics-table">
          <caption className="visually-hidden">Test metrics of the model, its baselines and reference models</caption>
          <thead>
            <tr>
              <th scope="col">metric</th>
              {table.columns.map((column) => (
                <th scope="col" key={column}>
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {table.metrics.map((metric) => {
              const row = table.columns.map((column) => table.values[column]?.[metric]);
              const present = row.filter((value): value is number => value !== undefined);
              const best =
                present.length > 1 ? (higherIsBetter(metric) ? Math.max(...present) : Math.min(...present)) : undefined;
              return (
                <tr key={metric}>
                  <th scope="row">{metric}</th>
                  {row.map((value, index) => (
                    <td key={table.columns[index]} className={value !== undefined && value === best ? "best" : undefined}>
                      {formatMetric(value)}
                      {value !== undefined && value === best ? <span className="visually-hidden"> (best)</span> : null}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </ScrollRegion>
    </>
  );
}
