/**
 * A line chart of metrics per epoch, drawn with uPlot (made for time series: canvas, small,
 * fast to update). New points are added with `setData`, so a live chart grows without being
 * rebuilt; it is rebuilt only when its set of lines or its markers change. A marker is a dashed
 * vertical line with a label, e.g. where a resumed run's new attempt begins.
 *
 * The legend shows the values at the epoch under the pointer, and the latest ones while the
 * pointer is elsewhere. The y axis turns logarithmic by itself when the positive values span more
 * than 10× (a falling loss), unless the user has set "Log scale" either way; values at or below
 * zero are left out of a log plot. Dragging across the plot zooms in on those epochs; new points
 * then leave the zoom alone until "Reset zoom" (or a double-click) shows every epoch again.
 *
 * The canvas is hidden from screen readers; the same numbers are in a
 * table under "Show the numbers", and the figure's `data-points` says how many epochs it shows.
 */

import { useEffect, useId, useMemo, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatMetric } from "../format";
import { ScrollRegion } from "./ScrollRegion";

export interface ChartSeries {
  label: string;
  color: string;
  dashed?: boolean;
  /** [epoch, value] pairs. */
  points: Array<[number, number]>;
}

export interface ChartMarker {
  x: number;
  label: string;
}

interface Props {
  title: string;
  series: ChartSeries[];
  markers?: ChartMarker[];
  xLabel?: string;
  height?: number;
  /** The last epoch there will be: a live curve then grows across a chart of its final width. */
  xMax?: number;
}

export type ChartData = [number[], ...Array<Array<number | null>>];

/** The series on one shared, sorted x axis, with null where a series has no point. */
export function alignSeries(series: ChartSeries[]): ChartData {
  const xs = [...new Set(series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b);
  const columns = series.map((s) => {
    const byX = new Map(s.points.map(([x, y]) => [x, Number.isFinite(y) ? y : null]));
    return xs.map((x) => byX.get(x) ?? null);
  });
  return [xs, ...columns];
}

/**
 * A series' value in the legend: at the epoch under the pointer, or, while the pointer is off
 * the chart (uPlot then asks with no index), at the series' latest point.
 */
export function legendValue(chart: Pick<uPlot, "data">, value: number | null, seriesIdx: number, idx: number | null): string {
  if (idx === null || idx === undefined) {
    const column = chart.data[seriesIdx] ?? [];
    for (let row = column.length - 1; row >= 0; row -= 1) {
      const latest = column[row];
      if (typeof latest === "number" && Number.isFinite(latest)) return formatMetric(latest);
    }
    return "–";
  }
  return value === null || value === undefined ? "–" : formatMetric(value);
}

/** Whether the positive values span more than 10× (max / min), so a log scale reads better. */
export function spansDecades(series: ChartSeries[]): boolean {
  let min = Infinity;
  let max = 0;
  for (const s of series) {
    for (const [, y] of s.points) {
      if (Number.isFinite(y) && y > 0) {
        min = Math.min(min, y);
        max = Math.max(max, y);
      }
    }
  }
  return max > 0 && max / min > 10;
}

/** The data for a log scale, which can only place positive values: the others become gaps. */
export function positiveOnly(data: ChartData): ChartData {
  const [xs, ...columns] = data;
  return [xs, ...columns.map((column) => column.map((y) => (y !== null && y > 0 ? y : null)))];
}

const DEFAULT_HEIGHT = 240;
const MARKER_COLOR = "#556173";

/** Draws each marker over the plot: a dashed vertical line, its label beside it. */
function markersPlugin(markers: ChartMarker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (chart: uPlot) => {
        const { ctx, bbox } = chart;
        const ratio = uPlot.pxRatio;
        ctx.save();
        ctx.strokeStyle = MARKER_COLOR;
        ctx.fillStyle = MARKER_COLOR;
        ctx.lineWidth = ratio;
        ctx.setLineDash([4 * ratio, 4 * ratio]);
        ctx.font = `${12 * ratio}px system-ui, sans-serif`;
        for (const marker of markers) {
          const x = Math.round(chart.valToPos(marker.x, "x", true));
          if (x < bbox.left || x > bbox.left + bbox.width) continue;
          ctx.beginPath();
          ctx.moveTo(x, bbox.top);
          ctx.lineTo(x, bbox.top + bbox.height);
          ctx.stroke();
          // Near the right edge the label goes on the line's left, so it stays inside.
          const onLeft = x > bbox.left + bbox.width * 0.75;
          ctx.textAlign = onLeft ? "right" : "left";
          ctx.fillText(marker.label, x + (onLeft ? -4 : 4) * ratio, bbox.top + 14 * ratio);
        }
        ctx.restore();
      },
    },
  };
}

export function MetricChart({
  title,
  series,
  markers = [],
  xLabel = "epoch",
  height = DEFAULT_HEIGHT,
  xMax,
}: Props) {
  const captionId = useId();
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = useMemo(() => alignSeries(series), [series]);
  const shape = series.map((s) => `${s.label}|${s.color}|${s.dashed ? 1 : 0}`).join(";");
  const marked = markers.map((marker) => `${marker.x}|${marker.label}`).join(";");
  // A log scale shows a loss that falls by orders of magnitude. It is chosen by itself when the
  // values span more than 10×, until the user sets the checkbox; it plots only positive values.
  const canLog = series.some((s) => s.points.some(([, y]) => Number.isFinite(y) && y > 0));
  const [userLog, setUserLog] = useState<boolean | null>(null);
  const log = (userLog ?? spansDecades(series)) && canLog;
  const plotted = useMemo(() => (log ? positiveOnly(data) : data), [data, log]);
  const latest = useRef(plotted);
  latest.current = plotted;
  // The x range the user dragged out, kept while new points arrive and across a rebuild.
  const zoomRange = useRef<[number, number] | null>(null);
  const [zoomed, setZoomed] = useState(false);

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth || 600),
      height,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false, setScale: true } },
      scales: {
        x: {
          time: false,
          // While zoomed, new data keeps the user's range, and the range is theirs as dragged.
          auto: () => zoomRange.current === null,
          range: (_self, min, max) => {
            if (zoomRange.current !== null || !xMax) return [min, max];
            return [Math.min(min ?? 1, 1), Math.max(max ?? xMax, xMax)];
          },
        },
        y: log ? { distr: 3 } : {},
      },
      axes: [
        {
          label: xLabel,
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
          values: (_self, ticks) => ticks.map((tick) => String(tick)),
        },
        {
          // On a log scale uPlot leaves the ticks between the powers of ten unlabelled (null).
          values: (_self, ticks) =>
            ticks.map((tick: number | null) => (tick == null ? "" : formatMetric(tick))),
          size: 64,
        },
      ],
      series: [
        { label: xLabel },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dashed ? [6, 4] : undefined,
          spanGaps: true,
          points: { show: true, size: 6, fill: s.color },
          value: legendValue,
        })),
      ],
      plugins: [markersPlugin(markers)],
      hooks: {
        // A drag across the plot: uPlot sets the x scale to it just after this hook.
        setSelect: [
          (self: uPlot) => {
            if (self.select.width > 0) {
              zoomRange.current = [Number.NaN, Number.NaN];
              setZoomed(true);
            }
          },
        ],
        setScale: [
          (self: uPlot, key: string) => {
            const { min, max } = self.scales.x ?? {};
            if (key === "x" && zoomRange.current !== null && min != null && max != null) zoomRange.current = [min, max];
          },
        ],
      },
    };
    // A rebuilt chart starts on every epoch, then goes back to the range the user had zoomed to.
    const kept = zoomRange.current;
    zoomRange.current = null;
    const chart = new uPlot(options, latest.current as uPlot.AlignedData, element);
    plot.current = chart;
    if (kept && Number.isFinite(kept[0]) && Number.isFinite(kept[1])) {
      zoomRange.current = kept;
      chart.setScale("x", { min: kept[0], max: kept[1] });
    } else if (kept) {
      setZoomed(false);
    }
    // uPlot's double-click shows every epoch again; this listener runs first, so the range is free.
    const unzoomOnDoubleClick = () => {
      zoomRange.current = null;
      setZoomed(false);
    };
    element.addEventListener("dblclick", unzoomOnDoubleClick, true);
    let observer: ResizeObserver | null = null;
    if (typeof ResizeObserver !== "undefined") {
      observer = new ResizeObserver(() => {
        const width = element.clientWidth;
        if (width > 0) chart.setSize({ width, height });
      });
      observer.observe(element);
    }
    return () => {
      observer?.disconnect();
      element.removeEventListener("dblclick", unzoomOnDoubleClick, true);
      chart.destroy();
      plot.current = null;
    };
    // Rebuilt only when the lines or markers change; new points arrive through setData below.
  }, [shape, marked, height, xLabel, log, xMax]);

  useEffect(() => {
    plot.current?.setData(plotted as uPlot.AlignedData);
  }, [plotted]);

  const resetZoom = () => {
    zoomRange.current = null;
    setZoomed(false);
    // Setting the data again scales x to every epoch, since the scale is automatic once more.
    plot.current?.setData(latest.current as uPlot.AlignedData);
  };

  const xs = data[0];
  return (
    <figure className="chart" data-points={xs.length} aria-labelledby={captionId}>
      <div className="chart-head">
        <figcaption id={captionId} className="chart-title">
          {title}
        </figcaption>
        <span className="chart-tools">
          {zoomed ? (
            <button type="button" className="button button-small" onClick={resetZoom}>
              Reset zoom
            </button>
          ) : null}
          {canLog ? (
            <label className="checkbox-row small">
              <input type="checkbox" checked={log} onChange={(event) => setUserLog(event.target.checked)} />
              Log scale
            </label>
          ) : null}
        </span>
      </div>
      <div ref={holder} className="chart-canvas" aria-hidden="true" />
      {xs.length === 0 ? <p className="muted chart-empty">No epoch has finished yet.</p> : null}
      <details className="chart-data">
        <summary>Show the numbers</summary>
        <ScrollRegion label={`${title}: the numbers`}>
          <table>
            <caption className="visually-hidden">{title} by {xLabel}</caption>
            <thead>
              <tr>
                <th scope="col">{xLabel}</th>
                {series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {xs.map((x, row) => (
                <tr key={x}>
                  <th scope="row">{x}</th>
                  {series.map((s, column) => (
                    <td key={s.label}>{formatMetric(data[column + 1]?.[row] ?? undefined)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      </details>
    </figure>
  );
}
