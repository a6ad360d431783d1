import { act, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { FakeUplot } from "../test/fakeUplot";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";

const ID = "cccccccc-0003";
const T0 = Date.parse("2026-01-02T10:00:00Z");
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const PENDING = wireExperiment({
  experiment_id: ID,
  status: "EXPERIMENT_STATUS_PENDING",
  started_at: null,
  finished_at: null,
  epochs_done: 0,
  metrics: {},
});

function send(seq: number, body: Record<string, unknown>) {
  act(() => FakeWebSocket.find(`/experiments/${ID}/events`).receive({ experiment_id: ID, seq, emitted_at: at(seq), ...body }));
}

async function settle() {
  // Events are applied in small batches; let the batch land.
  await act(() => new Promise((resolve) => setTimeout(resolve, 60)));
}

function points(): number {
  return Number(document.querySelector("figure.chart")?.getAttribute("data-points"));
}

describe("the experiment page", () => {
  it("says live updates are paused during a cut, freezes the time left, and clears once back", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: PENDING }) });
    renderApp(`/experiments/${ID}`);
    await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ });
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).open());
    send(1, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 3, steps_per_epoch: 100 } });
    send(2, { batch_progress: { epoch: 1, batch: 50, total_batches: 100, loss: 0.4 } });
    await settle();
    expect(screen.queryByTestId("connection-banner")).not.toBeInTheDocument();

    const online = vi.spyOn(navigator, "onLine", "get").mockReturnValue(false);
    act(() => window.dispatchEvent(new Event("offline")));
    const banner = await screen.findByTestId("connection-banner");
    expect(banner).toHaveTextContent(/Live updates paused — last update \d\d:\d\d:\d\d/);
    expect(banner).toHaveTextContent("The browser is offline");
    expect(screen.getByRole("progressbar").getAttribute("aria-valuetext")).toMatch(/about 5\.0 s left \(paused\)$/);

    online.mockReturnValue(true);
    act(() => window.dispatchEvent(new Event("online")));
    expect(screen.getByTestId("connection-banner")).toHaveTextContent("Reconnecting and resuming after event 2");
    act(() => FakeWebSocket.find(`/experiments/${ID}/events?after=2`).open());
    expect(screen.queryByTestId("connection-banner")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Cancel run" })).toBeInTheDocument();
  });

  it("offers Retry now after a dropped connection", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: PENDING }) });
    renderApp(`/experiments/${ID}`);
    await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ });
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).open());
    send(1, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 3, steps_per_epoch: 100 } });
    await settle();
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).serverClose(1006));
    const opened = FakeWebSocket.sockets.length;
    await userEvent.click(await screen.findByRole("button", { name: "Retry now" }));
    expect(FakeWebSocket.sockets.length).toBe(opened + 1);
    expect(FakeWebSocket.last().url).toMatch(/\?after=1$/);
  });

  it("grows its curves, progress and log as events arrive, then shows the ending", async () => {
    FakeWebSocket.install();
    FakeUplot.instances = [];
    await startSession();
    let current: Record<string, unknown> = PENDING;
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: current }) });
    renderApp(`/experiments/${ID}`);
    expect(await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ })).toBeInTheDocument();
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).open());
    expect(screen.getByText("Waiting for a trainer…")).toBeInTheDocument();

    send(1, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 3, steps_per_epoch: 100 } });
    send(2, { log_line: { level: "INFO", logger: "p", message: "fitting 3 epochs" } });
    send(3, { epoch_ended: { epoch: 1, total_epochs: 3, metrics: { loss: 0.5, val_loss: 0.6 } } });
    await settle();
    expect(points()).toBe(1);
    expect(within(screen.getByTestId("experiment-status")).getByText("Running")).toBeInTheDocument();
    expect(screen.getByRole("log", { name: "Training log" })).toHaveTextContent("fitting 3 epochs");

    send(4, { batch_progress: { epoch: 2, batch: 50, total_batches: 100, loss: 0.4 } });
    await settle();
    const bar = screen.getByRole("progressbar", { name: "Training progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "50");
    expect(bar.getAttribute("aria-valuetext")).toMatch(/^50%: Epoch 2 of 3 · batch 50 of 100 · about 3\.0 s left$/);

    const chart = FakeUplot.instances.at(-1) as FakeUplot;
    send(5, { epoch_ended: { epoch: 2, total_epochs: 3, metrics: { loss: 0.3, val_loss: 0.4 } } });
    await settle();
    expect(points()).toBe(2);
    // The same chart got the new point; it was not rebuilt.
    expect(FakeUplot.instances.at(-1)).toBe(chart);
    expect(chart.data).toEqual([
      [1, 2],
      [0.5, 0.3],
      [0.6, 0.4],
    ]);

    current = { ...PENDING, status: "EXPERIMENT_STATUS_FAILED", error_message: "the trainer ran out of memory" };
    send(6, { experiment_finished: { status: "EXPERIMENT_STATUS_FAILED", error_message: "the trainer ran out of memory" } });
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).serverClose(1000, "experiment_finished"));
    await settle();
    expect(await screen.findByRole("alert")).toHaveTextContent("The run failed: the trainer ran out of memory");
    expect(within(screen.getByTestId("experiment-status")).getByText("Failed")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Cancel run" })).not.toBeInTheDocument();
  });

  it("shows the ending as it comes, keeps listening, and shows the report once it is stored", async () => {
    FakeWebSocket.install();
    await startSession();
    let current: Record<string, unknown> = { ...PENDING, status: "EXPERIMENT_STATUS_RUNNING" };
    let report: string | null = null;
    fakeApi({
      [`GET experiments/${ID}`]: () => ({ json: current }),
      [`GET experiments/${ID}/report`]: () => (report === null ? { status: 404, json: {} } : { text: report }),
    });
    renderApp(`/experiments/${ID}?tab=report`);
    expect(await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ })).toBeInTheDocument();
    const socket = FakeWebSocket.find(`/experiments/${ID}/events`);
    act(() => socket.open());

    send(1, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 1, steps_per_epoch: 10 } });
    send(2, { epoch_ended: { epoch: 1, total_epochs: 1, metrics: { loss: 0.5 } } });
    current = { ...current, status: "EXPERIMENT_STATUS_SUCCEEDED" };
    send(3, { experiment_finished: { status: "EXPERIMENT_STATUS_SUCCEEDED", metrics: { rmse: 1.5 }, files_follow: true } });
    await settle();
    expect(within(screen.getByTestId("experiment-status")).getByText("Succeeded")).toBeInTheDocument();
    expect(await screen.findByText(/its report is being written/)).toBeInTheDocument();

    report = "# Run report: weather_forecaster\n\nThe model beat every baseline.";
    send(4, { artifact_stored: { artifact: { name: "report.md", size_bytes: 60, content_type: "text/markdown" } } });
    await settle();
    expect(await screen.findByText("The model beat every baseline.")).toBeInTheDocument();

    send(5, { files_stored: { count: 1 } });
    act(() => socket.serverClose(1000, "experiment_finished"));
    await settle();
    expect(screen.queryByText(/files are missing/)).not.toBeInTheDocument();
  });

  it("marks a resume: a notice, a log line, one point per epoch and the attempts", async () => {
    FakeWebSocket.install();
    FakeUplot.instances = [];
    await startSession();
    const reason = "trainer trainer-1 at 127.0.0.1:4567 was lost (UNAVAILABLE: Socket closed)";
    const running = { ...PENDING, status: "EXPERIMENT_STATUS_RUNNING", started_at: at(1), max_restarts: 3 };
    let current: Record<string, unknown> = running;
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: current }) });
    renderApp(`/experiments/${ID}`);
    await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ });
    act(() => FakeWebSocket.find(`/experiments/${ID}/events`).open());

    send(1, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 4, steps_per_epoch: 100, trainer_id: "trainer-1" } });
    [0.9, 0.8, 0.7].forEach((loss, index) =>
      send(index + 2, { epoch_ended: { epoch: index + 1, total_epochs: 4, metrics: { loss } } }),
    );
    await settle();
    expect(points()).toBe(3);
    expect(screen.queryByText(/Resumed on/)).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Attempts" })).not.toBeInTheDocument();

    current = {
      ...running,
      trainer_id: "trainer-2",
      checkpoint_epoch: 2,
      attempts: [
        { number: 1, trainer_id: "trainer-1", started_at: at(1), ended_at: at(5), lost_reason: reason },
        { number: 2, trainer_id: "trainer-2", from_epoch: 2, started_at: at(5) },
      ],
    };
    send(5, {
      experiment_resumed: { trainer_id: "trainer-2", from_epoch: 2, attempt: 2, reason, previous_trainer_id: "trainer-1" },
    });
    await settle();
    // Epoch 3 of the lost attempt is void at once.
    expect(points()).toBe(2);
    // The notice says it plainly; the reason as the scheduler wrote it is under "Details".
    const notice = screen.getByText("Resumed on trainer-2 from the checkpoint after epoch 2 (attempt 2 of 4): trainer-1 was lost.");
    const status = notice.closest('[role="status"]') as HTMLElement;
    expect(status).not.toBeNull();
    expect(status.textContent).toMatch(/^Resumed on trainer-2 /);
    const details = within(status).getByText("Details").closest("details") as HTMLDetailsElement;
    expect(details).not.toHaveAttribute("open");
    expect(details).toHaveTextContent(reason);
    expect(screen.getByRole("log", { name: "Training log" })).toHaveTextContent(
      `WARNING Resumed on trainer-2 from the checkpoint after epoch 2 (attempt 2): ${reason}`,
    );
    const attempts = await screen.findByRole("table", { name: "Each run of this experiment on a trainer, the first first" });
    const cells = within(attempts)
      .getAllByRole("row")
      .slice(1)
      .map((row) => within(row).getAllByRole("cell").map((cell) => cell.textContent));
    // The table keeps the whole reason: it is the record.
    expect(cells).toEqual([
      ["trainer-1", "the beginning", expect.any(String), expect.any(String), reason],
      ["trainer-2", "checkpoint after epoch 2", expect.any(String), "–", "Still running"],
    ]);
    expect(screen.getByText("Checkpoint").nextSibling).toHaveTextContent("after epoch 2");
    expect(screen.getByText("Trainer").nextSibling).toHaveTextContent("trainer-2");
    const chart = FakeUplot.instances.at(-1) as FakeUplot;

    send(6, { experiment_started: { pipeline: "weather_forecaster", total_epochs: 4, steps_per_epoch: 100, initial_epoch: 2 } });
    send(7, { epoch_ended: { epoch: 3, total_epochs: 4, metrics: { loss: 0.65 } } });
    send(8, { epoch_ended: { epoch: 4, total_epochs: 4, metrics: { loss: 0.6 } } });
    await settle();
    expect(chart.data).toEqual([
      [1, 2, 3, 4],
      [0.9, 0.8, 0.65, 0.6],
    ]);
  });

  it("cancels a run after asking", async () => {
    FakeWebSocket.install();
    await startSession();
    const api = fakeApi({
      [`GET experiments/${ID}`]: () => ({ json: PENDING }),
      [`POST experiments/${ID}/cancel`]: () => ({ json: { ...PENDING, status: "EXPERIMENT_STATUS_CANCELLED" } }),
    });
    renderApp(`/experiments/${ID}`);
    await userEvent.click(await screen.findByRole("button", { name: "Cancel run" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes, cancel it" }));
    expect(api.calls.some((call) => call.method === "POST" && call.url.pathname.endsWith("/cancel"))).toBe(true);
  });

  it("moves between tabs with the arrow keys and shows the config", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: wireExperiment({ experiment_id: ID }) }) });
    renderApp(`/experiments/${ID}`);
    const progress = await screen.findByRole("tab", { name: "Progress" });
    expect(progress).toHaveAttribute("aria-selected", "true");
    progress.focus();
    // A succeeded run's last tab is Predict; the config is just before it.
    await userEvent.keyboard("{End}");
    expect(screen.getByRole("tab", { name: "Predict" })).toHaveFocus();
    await userEvent.keyboard("{ArrowLeft}");
    const config = screen.getByRole("tab", { name: "Config" });
    expect(config).toHaveFocus();
    expect(config).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tabpanel")).toHaveTextContent("batch_size16");
    await userEvent.keyboard("{ArrowRight}{ArrowRight}");
    expect(screen.getByRole("tab", { name: "Progress" })).toHaveFocus();
  });

  it("says a sweep stopped the run early, as a finished run with nothing to cancel or ask", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      [`GET experiments/${ID}`]: () => ({ json: wireExperiment({ experiment_id: ID, status: "EXPERIMENT_STATUS_STOPPED_EARLY" }) }),
    });
    renderApp(`/experiments/${ID}`);
    await screen.findByRole("heading", { name: /weather_forecaster cccccccc/ });
    expect(screen.getAllByText("Stopped early")[0]).toHaveAttribute("data-status", "stopped_early");
    expect(screen.getByText(/Its sweep stopped the run early/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Cancel run" })).not.toBeInTheDocument();
    expect(screen.queryByRole("tab", { name: "Predict" })).not.toBeInTheDocument();
  });

  it("shows why an answer it cannot read is wrong, instead of an empty run", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ [`GET experiments/${ID}`]: () => ({ json: wireExperiment({ experiment_id: ID, epochs_done: "five" }) }) });
    renderApp(`/experiments/${ID}`);
    expect(await screen.findByRole("alert")).toHaveTextContent(/malformed azuraforge\.v1\.Experiment.*epochs_done/);
  });

  it("says when there is no such experiment", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({});
    renderApp(`/experiments/nope`);
    expect(await screen.findByRole("alert")).toHaveTextContent("There is no experiment with this id");
  });
});
