// A stand-in for uPlot that records what the chart asked it to draw.
type Hook = (chart: FakeUplot, key?: string) => void;

export class FakeUplot {
  static instances: FakeUplot[] = [];
  static pxRatio = 1;
  data: unknown[];
  destroyed = false;
  /** Each setData call, in order. */
  setDataCalls: unknown[][] = [];
  select = { left: 0, top: 0, width: 0, height: 0 };
  scales: Record<string, { min?: number; max?: number }> = { x: {}, y: {} };

  constructor(
    readonly options: {
      series: { label?: string; value?: (self: { data: unknown[] }, value: number | null, seriesIdx: number, idx: number | null) => string }[];
      scales?: Record<string, { distr?: number; auto?: () => boolean; range?: (self: unknown, min: number, max: number) => [number, number] }>;
      cursor?: { drag?: { x?: boolean; y?: boolean; setScale?: boolean } };
      axes?: { values?: (self: unknown, ticks: Array<number | null>) => string[] }[];
      plugins?: { hooks: { draw?: (chart: unknown) => void } }[];
      hooks?: Record<string, Hook[]>;
    },
    data: unknown[],
    readonly target: HTMLElement,
  ) {
    this.data = data;
    FakeUplot.instances.push(this);
  }

  private fire(name: string, key?: string): void {
    for (const hook of this.options.hooks?.[name] ?? []) hook(this, key);
  }

  setData(data: unknown[]): void {
    this.data = data;
    this.setDataCalls.push(data);
  }

  setScale(key: string, range: { min: number; max: number }): void {
    this.scales[key] = { ...range };
    this.fire("setScale", key);
  }

  /** What uPlot does when the user drags across the plot from x = min to x = max. */
  drag(min: number, max: number): void {
    this.select = { left: 10, top: 0, width: 100, height: 200 };
    this.fire("setSelect");
    this.setScale("x", { min, max });
    this.select = { left: 0, top: 0, width: 0, height: 0 };
  }

  setSize(): void {}

  destroy(): void {
    this.destroyed = true;
  }
}

export const uplotModule = { default: FakeUplot };
