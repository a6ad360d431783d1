import { act, render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { FakeUplot } from "../test/fakeUplot";
import { LiveLog } from "./LiveLog";
import { alignSeries, legendValue, MetricChart } from "./MetricChart";
import { ProgressBar } from "./ProgressBar";
import { StatusBadge } from "./StatusBadge";

describe("StatusBadge", () => {
  it("says the status in words", () => {
    render(<StatusBadge status="cancelled" />);
    expect(screen.getByText("Cancelled")).toHaveAttribute("data-status", "cancelled");
  });

  it("says a sweep's trial was stopped early", () => {
    render(<StatusBadge status="stopped_early" />);
    expect(screen.getByText("Stopped early")).toHaveAttribute("data-status", "stopped_early");
  });
});

describe("ProgressBar", () => {
  it("is an ARIA progress bar with the epoch, batch and time left", () => {
    render(
      <ProgressBar
        running
        progress={{ fraction: 0.25, epoch: 2, totalEpochs: 4, batch: 10, totalBatches: 100, secondsLeft: 95 }}
      />,
    );
    const bar = screen.getByRole("progressbar", { name: "Training progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "25");
    expect(bar).toHaveAttribute("aria-valuetext", "25%: Epoch 2 of 4 · batch 10 of 100 · about 1 min 35 s left");
  });

  it("waits for a trainer before the run starts", () => {
    render(<ProgressBar running={false} progress={null} />);
    expect(screen.getByText("Waiting for a trainer…")).toBeInTheDocument();
  });
});

describe("LiveLog", () => {
  it("is a log region with one line per log line", () => {
    render(
      <LiveLog
        lines={[
          { seq: 1, time: null, level: "INFO", logger: "p", message: "fitting" },
          { seq: 2, time: null, level: "WARNING", logger: "p", message: "slow" },
        ]}
      />,
    );
    const log = screen.getByRole("log", { name: "Training log" });
    expect(log).toHaveTextContent("INFO fitting");
    expect(log.querySelector(".log-warning")).toHaveTextContent("slow");
  });
});

describe("MetricChart", () => {
  it("puts the series on one x axis, with gaps where a series has no point", () => {
    expect(
      alignSeries([
        { label: "a", color: "red", points: [[1, 0.5], [2, 0.4]] },
        { label: "b", color: "blue", points: [[2, 0.7], [3, Number.NaN]] },
      ]),
    ).toEqual([
      [1, 2, 3],
      [0.5, 0.4, null],
      [null, 0.7, null],
    ]);
  });

  it("hands uPlot new points without rebuilding, and lists the numbers for screen readers", () => {
    FakeUplot.instances = [];
    const series = (points: Array<[number, number]>) => [{ label: "loss", color: "#000", points }];
    const { rerender } = render(<MetricChart title="loss" series={series([[1, 0.5]])} />);
    rerender(<MetricChart title="loss" series={series([[1, 0.5], [2, 0.25]])} />);
    expect(FakeUplot.instances).toHaveLength(1);
    expect(FakeUplot.instances[0]?.data).toEqual([[1, 2], [0.5, 0.25]]);
    expect(screen.getByRole("figure", { name: "loss" })).toHaveAttribute("data-points", "2");
    expect(screen.getByRole("table", { name: "loss by epoch" })).toHaveTextContent("20.25");
  });

  it("shows the latest values in the legend while the pointer is off the chart", () => {
    FakeUplot.instances = [];
    const series = [
      { label: "loss", color: "#000", points: [[1, 0.5], [2, 0.25], [3, 0.125]] as Array<[number, number]> },
      { label: "val_loss", color: "#f00", points: [[1, 0.6], [2, 0.3]] as Array<[number, number]> },
    ];
    render(<MetricChart title="loss" series={series} />);
    const chart = FakeUplot.instances[0] as FakeUplot;
    const [, loss, validation] = chart.options.series;
    // Off the chart uPlot asks with no index: the latest point of each series, gaps skipped.
    expect(loss?.value?.(chart, null, 1, null)).toBe("0.125");
    expect(validation?.value?.(chart, null, 2, null)).toBe("0.3");
    // Over an epoch, that epoch's values, or a dash where a series has none.
    expect(loss?.value?.(chart, 0.25, 1, 1)).toBe("0.25");
    expect(validation?.value?.(chart, null, 2, 2)).toBe("–");
    expect(legendValue({ data: [[]] } as never, null, 1, null)).toBe("–");
  });

  it("turns to a log scale by itself when the values span more than 10×, linear otherwise", () => {
    FakeUplot.instances = [];
    const loss = (points: Array<[number, number]>) => [{ label: "loss", color: "#000", points }];
    const { rerender } = render(<MetricChart title="loss" series={loss([[1, 0.5], [2, 0.1]])} />);
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBeUndefined();
    expect(screen.getByRole("checkbox", { name: "Log scale" })).not.toBeChecked();

    rerender(<MetricChart title="loss" series={loss([[1, 0.5], [2, 0.1], [3, 0.01]])} />);
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBe(3);
    expect(screen.getByRole("checkbox", { name: "Log scale" })).toBeChecked();
    // uPlot hands a log axis nulls for the ticks it leaves unlabelled: they stay blank.
    const yAxis = FakeUplot.instances.at(-1)?.options.axes?.[1];
    expect(yAxis?.values?.(null, [0.1, null, null, 0.01])).toEqual(["0.1", "", "", "0.01"]);
  });

  it("leaves values at or below zero out of a log plot, and lets the checkbox decide", async () => {
    const { default: userEvent } = await import("@testing-library/user-event");
    FakeUplot.instances = [];
    const series = [{ label: "loss", color: "#000", points: [[1, 5], [2, 0], [3, 0.01]] as Array<[number, number]> }];
    const { rerender } = render(<MetricChart title="loss" series={series} />);
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBe(3);
    expect(FakeUplot.instances.at(-1)?.data).toEqual([[1, 2, 3], [5, null, 0.01]]);
    // The numbers under the chart still show the zero.
    expect(screen.getByRole("table", { name: "loss by epoch" })).toHaveTextContent("20");

    await userEvent.click(screen.getByRole("checkbox", { name: "Log scale" }));
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBeUndefined();
    expect(FakeUplot.instances.at(-1)?.data).toEqual([[1, 2, 3], [5, 0, 0.01]]);
    // The user's choice holds while new points arrive.
    rerender(<MetricChart title="loss" series={[{ ...series[0]!, points: [...series[0]!.points, [4, 0.001]] }]} />);
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBeUndefined();

    await userEvent.click(screen.getByRole("checkbox", { name: "Log scale" }));
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBe(3);
  });

  it("can be switched to a log scale on request when the values span less", async () => {
    const { default: userEvent } = await import("@testing-library/user-event");
    FakeUplot.instances = [];
    render(<MetricChart title="loss" series={[{ label: "loss", color: "#000", points: [[1, 0.5], [2, 0.1]] }]} />);
    await userEvent.click(screen.getByRole("checkbox", { name: "Log scale" }));
    expect(FakeUplot.instances.at(-1)?.options.scales?.y?.distr).toBe(3);
  });

  it("zooms on a drag, keeps the zoom as points arrive, and resets it on request", async () => {
    const { default: userEvent } = await import("@testing-library/user-event");
    FakeUplot.instances = [];
    const loss = (points: Array<[number, number]>) => [{ label: "loss", color: "#000", points }];
    const { rerender } = render(<MetricChart title="loss" series={loss([[1, 0.5], [2, 0.4], [3, 0.3]])} xMax={10} />);
    const chart = FakeUplot.instances[0] as FakeUplot;
    expect(chart.options.cursor?.drag).toEqual({ x: true, y: false, setScale: true });
    const x = chart.options.scales?.x;
    // Not zoomed: x is automatic and spans every epoch to come.
    expect(x?.auto?.()).toBe(true);
    expect(x?.range?.(chart, 1, 3)).toEqual([1, 10]);
    expect(screen.queryByRole("button", { name: "Reset zoom" })).not.toBeInTheDocument();

    act(() => chart.drag(2, 3));
    expect(screen.getByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
    // Zoomed: new data leaves x alone, and the dragged range is not widened.
    expect(x?.auto?.()).toBe(false);
    expect(x?.range?.(chart, 2, 3)).toEqual([2, 3]);
    rerender(<MetricChart title="loss" series={loss([[1, 0.5], [2, 0.4], [3, 0.3], [4, 0.2]])} xMax={10} />);
    expect(FakeUplot.instances).toHaveLength(1);
    expect(x?.auto?.()).toBe(false);

    await userEvent.click(screen.getByRole("button", { name: "Reset zoom" }));
    expect(screen.queryByRole("button", { name: "Reset zoom" })).not.toBeInTheDocument();
    expect(x?.auto?.()).toBe(true);
    expect(x?.range?.(chart, 1, 4)).toEqual([1, 10]);
    expect(chart.setDataCalls.at(-1)).toEqual([[1, 2, 3, 4], [0.5, 0.4, 0.3, 0.2]]);
  });

  it("forgets the zoom on a double-click, as uPlot shows every epoch again", () => {
    FakeUplot.instances = [];
    render(<MetricChart title="loss" series={[{ label: "loss", color: "#000", points: [[1, 0.5], [2, 0.4], [3, 0.3]] }]} />);
    const chart = FakeUplot.instances[0] as FakeUplot;
    act(() => chart.drag(1, 2));
    expect(screen.getByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
    act(() => {
      chart.target.dispatchEvent(new MouseEvent("dblclick", { bubbles: true }));
    });
    expect(screen.queryByRole("button", { name: "Reset zoom" })).not.toBeInTheDocument();
    expect(chart.options.scales?.x?.auto?.()).toBe(true);
  });

  it("keeps the zoom when the chart is rebuilt", () => {
    FakeUplot.instances = [];
    const series = [{ label: "loss", color: "#000", points: [[1, 0.5], [2, 0.4], [3, 0.3]] as Array<[number, number]> }];
    const { rerender } = render(<MetricChart title="loss" series={series} />);
    act(() => (FakeUplot.instances[0] as FakeUplot).drag(1.5, 2.5));
    rerender(<MetricChart title="loss" series={series} markers={[{ x: 2, label: "attempt 2" }]} />);
    expect(FakeUplot.instances).toHaveLength(2);
    expect(FakeUplot.instances[1]?.scales.x).toEqual({ min: 1.5, max: 2.5 });
    expect(screen.getByRole("button", { name: "Reset zoom" })).toBeInTheDocument();
  });

  it("draws each marker as a labelled vertical line, and is rebuilt when the markers change", () => {
    FakeUplot.instances = [];
    const series = [{ label: "loss", color: "#000", points: [[1, 0.5], [2, 0.4], [3, 0.3]] as Array<[number, number]> }];
    const { rerender } = render(<MetricChart title="loss" series={series} />);
    rerender(<MetricChart title="loss" series={series} markers={[{ x: 2, label: "attempt 2" }]} />);
    expect(FakeUplot.instances).toHaveLength(2);

    const drawn: string[] = [];
    const ctx = new Proxy(
      {},
      {
        get: (_target, name: string) => (...args: unknown[]) => drawn.push(`${name}(${args.join(",")})`),
        set: () => true,
      },
    );
    // x = 100 px per epoch; the plot spans 0 to 400 px across and 10 to 210 down.
    const chart = { ctx, bbox: { left: 0, top: 10, width: 400, height: 200 }, valToPos: (x: number) => x * 100 };
    FakeUplot.instances[1]?.options.plugins?.[0]?.hooks.draw?.(chart);
    expect(drawn).toEqual(expect.arrayContaining(["moveTo(200,10)", "lineTo(200,210)", "fillText(attempt 2,204,24)"]));
  });
});
