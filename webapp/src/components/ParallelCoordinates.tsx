/**
 * A sweep's settings against its objective, one line per trial (geometry in parallelCoords.ts).
 * The best trial is drawn last, thick and in the accent colour, and named in the caption, so the
 * colour is never the only cue; a trial stopped early is dashed. For a screen reader the figure
 * is one image with a summary, pointing at the trials table, which holds every value drawn here.
 */

import { useId } from "react";
import type { Objective, SpaceEntry, SweepTrial } from "../api/sweeps";
import { formatMetric, formatValue } from "../format";
import { axesFor, axisX, axisY, pathOf, PLOT_SIZE, plotWidth, ticksOf, trialLines } from "./parallelCoords";

interface Props {
  space: SpaceEntry[];
  objective: Objective;
  trials: SweepTrial[];
  best: SweepTrial | null;
  /** The id of the table with the same values. */
  tableId: string;
}

function trialSummary(trial: SweepTrial, space: SpaceEntry[], objective: Objective): string {
  const settings = space.map((entry) => `${entry.setting} ${formatValue(trial.settings[entry.setting])}`).join(", ");
  const result = trial.objective === null ? `no ${objective.metric} yet` : `${objective.metric} ${formatMetric(trial.objective)}`;
  return `Trial ${trial.number}: ${settings}; ${result}`;
}

// The outer axes' names run inward from the plot's edges, so a long name is not cut off.
function nameAnchor(index: number, count: number): "start" | "middle" | "end" {
  if (count > 1 && index === 0) return "start";
  if (count > 1 && index === count - 1) return "end";
  return "middle";
}

function nameX(index: number, count: number, x: number, width: number): number {
  const anchor = nameAnchor(index, count);
  return anchor === "start" ? 4 : anchor === "end" ? width - 4 : x;
}

export function ParallelCoordinates({ space, objective, trials, best, tableId }: Props) {
  const titleId = useId();
  const descId = useId();
  const axes = axesFor(space, objective, trials);
  const size = { ...PLOT_SIZE, width: plotWidth(axes.length) };
  const lines = trialLines(axes, trials, size);
  // The best last, so nothing hides it.
  const ordered = [...lines.filter((line) => line.trial.number !== best?.number), ...lines.filter((line) => line.trial.number === best?.number)];
  const reported = trials.filter((trial) => trial.objective !== null).length;
  const summary =
    `${trials.length} trial${trials.length === 1 ? "" : "s"}, ${reported} with ${objective.metric}. ` +
    (best ? `The best so far: ${trialSummary(best, space, objective)}. ` : "") +
    "Every value is in the trials table.";

  return (
    <figure className="parallel-plot">
      {/* Focusable, so a keyboard can scroll it across on a narrow screen. */}
      <div className="parallel-plot-scroll" role="region" aria-label="The plot" tabIndex={0}>
        <svg
          viewBox={`0 0 ${size.width} ${size.height}`}
          role="img"
          aria-labelledby={titleId}
          aria-describedby={descId}
          style={{ minWidth: `${Math.round(size.width * 0.72)}px` }}
        >
          <title id={titleId}>
            {space.map((entry) => entry.setting).join(", ")} against {objective.metric}
          </title>
          <desc id={descId}>{summary}</desc>
          <g className="pc-lines">
            {ordered.map(({ trial, points, complete }) => {
              const isBest = trial.number === best?.number;
              const classes = [
                "pc-line",
                isBest ? "pc-best" : "",
                trial.status === "stopped_early" ? "pc-stopped" : "",
                complete ? "" : "pc-partial",
              ];
              return (
                <path
                  key={trial.number}
                  d={pathOf(points)}
                  className={classes.filter(Boolean).join(" ")}
                  data-trial={trial.number}
                  data-best={isBest || undefined}
                >
                  <title>{trialSummary(trial, space, objective)}</title>
                </path>
              );
            })}
          </g>
          {axes.map((axis, index) => {
            const x = axisX(index, axes.length, size);
            return (
              <g key={axis.key} className={`pc-axis${axis.objective ? " pc-objective" : ""}`} data-axis={axis.key} data-scale={axis.scale}>
                <line x1={x} x2={x} y1={axisY(0, size)} y2={axisY(1, size)} />
                <text x={nameX(index, axes.length, x, size.width)} y={14} textAnchor={nameAnchor(index, axes.length)} className="pc-axis-name">
                  {axis.key}
                  {axis.scale === "log" ? " (log)" : ""}
                </text>
                {axis.objective ? (
                  <text x={nameX(index, axes.length, x, size.width)} y={30} textAnchor={nameAnchor(index, axes.length)} className="pc-axis-note">
                    {objective.mode === "min" ? "lower is better ↑" : "higher is better ↑"}
                  </text>
                ) : null}
                {ticksOf(axis).map((tick) => (
                  <text
                    key={`${tick.label}-${tick.at}`}
                    x={index === axes.length - 1 ? x + 6 : x - 6}
                    y={axisY(tick.at, size) + 4}
                    textAnchor={index === axes.length - 1 ? "start" : "end"}
                    className="pc-tick"
                  >
                    {tick.label}
                  </text>
                ))}
              </g>
            );
          })}
        </svg>
      </div>
      <figcaption className="muted small">
        Each line is a trial, through its settings to its {objective.metric}
        {best ? (
          <>
            ; the thick one is the best so far, trial {best.number}
          </>
        ) : null}
        . Dashed lines were stopped early. The same values are in <a href={`#${tableId}`}>the trials table</a>.
      </figcaption>
    </figure>
  );
}
