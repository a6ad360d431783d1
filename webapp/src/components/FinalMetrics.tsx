/**
 * A finished run's test metrics beside its baselines' (`baseline_<name>_<metric>`), one row per
 * metric, the best value of each row marked.
 */

import { formatMetric, higherIsBetter } from "../format";
import { ScrollRegion } from "./ScrollRegion";

export interface MetricTable {
  metrics: string[];
  columns: string[];
  /** values[column][metric] */
  values: Record<string, Record<string, number>>;
}

export function splitBaselines(metrics: Record<string, number>): MetricTable {
  const own = Object.keys(metrics).filter((name) => !name.startsWith("baseline_")).sort();
  const values: Record<string, Record<string, number>> = { model: {} };
  for (const name of own) (values.model as Record<string, number>)[name] = metrics[name] as number;
  const rows = new Set(own);
  for (const [key, value] of Object.entries(metrics)) {
    if (!key.startsWith("baseline_")) continue;
    const rest = key.slice("baseline_".length);
    const metric = own.find((name) => rest.endsWith(`_${name}`));
    const baseline = metric ? rest.slice(0, -metric.length - 1) : rest;
    const row = metric ?? key;
    rows.add(row);
    values[baseline] = { ...(values[baseline] ?? {}), [row]: value };
  }
  return { metrics: [...rows], columns: Object.keys(values), values };
}

export function FinalMetrics({ metrics }: { metrics: Record<string, number> }) {
  const table = splitBaselines(metrics);
  if (table.metrics.length === 0) return null;
  return (
    <>
      <h2 className="section-title">Test metrics</h2>
      {table.columns.length > 1 ? (
        <p className="muted">Beside the baselines the model has to beat; the best of each row is marked.</p>
      ) : null}
      <ScrollRegion label="The run's final metrics">
        <table className="metrics-table">
          <caption className="visually-hidden">Test metrics of the model and its baselines</caption>
          <thead>
            <tr>
              <th scope="col">metric</th>
              {table.columns.map((column) => (
                <th scope="col" key={column}>
                  {column.replace(/_/g, " ")}
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
