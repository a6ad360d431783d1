// A stand-in for uPlot that records what the chart asked it to draw.
export class FakeUplot {
  static instances: FakeUplot[] = [];
  static pxRatio = 1;
  data: unknown[];
  destroyed = false;

  constructor(
    readonly options: {
      series: { label?: string; value?: (self: { data: unknown[] }, value: number | null, seriesIdx: number, idx: number | null) => string }[];
      scales?: Record<string, { distr?: number }>;
      plugins?: { hooks: { draw?: (chart: unknown) => void } }[];
    },
    data: unknown[],
    readonly target: HTMLElement,
  ) {
    this.data = data;
    FakeUplot.instances.push(this);
  }

  setData(data: unknown[]): void {
    this.data = data;
  }

  setSize(): void {}

  destroy(): void {
    this.destroyed = true;
  }
}

export const uplotModule = { default: FakeUplot };
