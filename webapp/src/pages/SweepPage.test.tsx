import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { fakeApi, startSession, wireExperiment } from "../test/fakeApi";
import { FakeWebSocket } from "../test/fakeSocket";
import { renderApp } from "../test/render";
import { decision, finished, SWEEP_ID, trialChanged, wireSweep, wireTrial } from "../test/sweeps";

const PATH = `/sweeps/${SWEEP_ID}/events`;

function send(event: Record<string, unknown>) {
  act(() => FakeWebSocket.find(PATH).receive(event));
}

async function settle() {
  // Events are applied in small batches; let the batch land.
  await act(() => new Promise((resolve) => setTimeout(resolve, 60)));
}

function row(trial: number): HTMLElement {
  return document.querySelector(`#sweep-trials tr[data-trial="${trial}"]`) as HTMLElement;
}

describe("the sweep page", () => {
  it("shows the stored trials, the best one, and the epochs spent of the budget", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      // The form shows hidden_size before learning_rate; the page follows it, not the Struct's order.
      "GET pipelines": () => ({
        json: {
          pipelines: [
            {
              name: "weather_forecaster",
              summary: "",
              config_schema: {
                "x-order": ["epochs", "hidden_size", "learning_rate"],
                properties: { epochs: { type: "integer" }, hidden_size: { type: "integer" }, learning_rate: { type: "number" } },
              },
            },
          ],
        },
      }),
      [`GET sweeps/${SWEEP_ID}`]: () => ({
        json: wireSweep({
          trials: [
            wireTrial(1, { objective: 0.42, epochs_done: 3, status: "EXPERIMENT_STATUS_STOPPED_EARLY", rungs: [{ rung: 0, epoch: 1, objective: 0.5, promoted: false }] }),
            wireTrial(2, { objective: 0.31, epochs_done: 4, settings: { learning_rate: 0.004, hidden_size: 32 } }),
          ],
          best_trial: wireTrial(2, { objective: 0.31, epochs_done: 4, settings: { learning_rate: 0.004, hidden_size: 32 } }),
          epochs_spent: 7,
          epochs_budget: 18,
          last_seq: 20,
        }),
      }),
    });
    renderApp(`/sweeps/${SWEEP_ID}`);
    expect(await screen.findByRole("heading", { level: 1, name: /lr search 5eeeeeee/ })).toBeInTheDocument();
    expect(screen.getByTestId("sweep-status")).toHaveTextContent("Running");
    const plot = await screen.findByRole("img", { name: "hidden_size, learning_rate against val_loss" });
    const best = screen.getByTestId("best-trial");
    expect(best).toHaveTextContent("val_loss 0.31");
    expect(within(best).getByRole("link", { name: "Trial 2" })).toHaveAttribute("href", "/experiments/trial-2");
    expect(best).toHaveTextContent("hidden_size=32 · learning_rate=0.004");
    expect(screen.getByText(/spent of 18/)).toHaveTextContent("7 spent of 18 that the trials so far would train in full (39 %)");
    expect(screen.getByRole("progressbar", { name: "Epochs spent of the budget" })).toHaveAttribute("aria-valuenow", "7");

    expect(within(row(1)).getByText("Stopped early")).toBeInTheDocument();
    expect(row(1)).toHaveTextContent("rung 0 (epoch 1), stopped");
    expect(row(1)).toHaveTextContent("3 / 9");
    expect(row(2)).toHaveClass("is-best");
    expect(within(row(2)).getByText("best")).toBeInTheDocument();
    expect(row(1)).not.toHaveClass("is-best");

    expect(plot).toHaveAccessibleDescription(/The best so far: Trial 2: hidden_size 32, learning_rate 0\.004; val_loss 0\.31/);
    expect(Array.from(document.querySelectorAll("#sweep-trials thead th")).map((th) => th.textContent)).toEqual([
      "Trial",
      "Status",
      "Epoch",
      "val_loss",
      "Rung",
      "hidden_size",
      "learning_rate",
    ]);
    expect(plot.querySelector('[data-axis="learning_rate"]')).toHaveAttribute("data-scale", "log");
    expect(plot.querySelector('path[data-best="true"]')).toHaveAttribute("data-trial", "2");
    expect(plot.querySelector('path[data-trial="1"]')).toHaveClass("pc-stopped");
    expect(screen.getByRole("button", { name: "Cancel sweep" })).toBeInTheDocument();
  });

  it("adds and updates trials as events arrive, moves the best, lists ASHA's decisions, and ends", async () => {
    FakeWebSocket.install();
    await startSession();
    let stored = wireSweep();
    fakeApi({ [`GET sweeps/${SWEEP_ID}`]: () => ({ json: stored }) });
    renderApp(`/sweeps/${SWEEP_ID}`);
    await screen.findByRole("heading", { level: 1, name: /lr search/ });
    expect(screen.getByText("No trial has been drawn yet.")).toBeInTheDocument();
    expect(screen.getByText("No trial has reached the first rung yet.")).toBeInTheDocument();
    act(() => FakeWebSocket.find(PATH).open());

    send(trialChanged(1, wireTrial(1)));
    send(trialChanged(2, wireTrial(2)));
    send(trialChanged(3, wireTrial(1, { epochs_done: 1, objective: 0.5 })));
    await settle();
    expect(row(1)).toHaveTextContent("0.5");
    expect(row(1)).toHaveClass("is-best");
    expect(screen.getByTestId("best-trial")).toHaveTextContent("val_loss 0.5");
    expect(document.querySelectorAll(".pc-line")).toHaveLength(2);

    send(trialChanged(4, wireTrial(2, { epochs_done: 1, objective: 0.3, rungs: [{ rung: 0, epoch: 1, objective: 0.3, promoted: true }] })));
    send(decision(5, 2, true, 0.3, 0.3));
    send(trialChanged(6, wireTrial(1, { epochs_done: 1, objective: 0.5, status: "EXPERIMENT_STATUS_STOPPED_EARLY" })));
    send(decision(7, 1, false, 0.5, 0.3));
    await settle();
    expect(row(2)).toHaveClass("is-best");
    expect(row(1)).not.toHaveClass("is-best");
    expect(within(row(1)).getByText("Stopped early")).toBeInTheDocument();
    expect(document.querySelector('path[data-best="true"]')).toHaveAttribute("data-trial", "2");
    expect(screen.getByText(/spent of/)).toHaveTextContent("2 spent of 18");
    const decisions = screen.getByRole("list", { name: "Decisions, newest first" });
    const items = within(decisions).getAllByRole("listitem");
    expect(items.map((item) => item.getAttribute("data-trial"))).toEqual(["1", "2"]);
    expect(items[0]).toHaveTextContent("Stopped Trial 1 at rung 0 (epoch 1): 0.5, cut-off 0.3 among 3");
    expect(items[0]).toHaveTextContent("is not in the top 1/3 of 3 trials");
    expect(items[1]).toHaveTextContent("Promoted Trial 2");

    stored = wireSweep({
      status: "SWEEP_STATUS_SUCCEEDED",
      trials: [wireTrial(1, { epochs_done: 1, objective: 0.5, status: "EXPERIMENT_STATUS_STOPPED_EARLY" }), wireTrial(2, { epochs_done: 9, objective: 0.2, status: "EXPERIMENT_STATUS_SUCCEEDED" })],
      best_trial: wireTrial(2, { epochs_done: 9, objective: 0.2, status: "EXPERIMENT_STATUS_SUCCEEDED" }),
      // The server counts an epoch trained again after a resume; the page's own sum would say 10.
      epochs_spent: 11,
      epochs_budget: 18,
      last_seq: 9,
    });
    send(trialChanged(8, wireTrial(2, { epochs_done: 9, objective: 0.2, status: "EXPERIMENT_STATUS_SUCCEEDED" })));
    send(finished(9, "SWEEP_STATUS_SUCCEEDED", wireTrial(2, { epochs_done: 9, objective: 0.2, status: "EXPERIMENT_STATUS_SUCCEEDED" })));
    act(() => FakeWebSocket.find(PATH).serverClose(1000));
    expect(await screen.findByText("The sweep is done: every trial has ended.")).toBeInTheDocument();
    expect(screen.getByTestId("sweep-status")).toHaveTextContent("Succeeded");
    expect(screen.getByTestId("best-trial")).toHaveTextContent("val_loss 0.2");
    // The stored sweep, read again once it finished, has the server's count.
    await waitFor(() => expect(screen.getByText(/spent of/)).toHaveTextContent("11 spent of 18"));
    expect(screen.queryByRole("button", { name: "Cancel sweep" })).not.toBeInTheDocument();
  });

  it("resumes after a dropped connection from the last event it saw", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({ [`GET sweeps/${SWEEP_ID}`]: () => ({ json: wireSweep() }) });
    renderApp(`/sweeps/${SWEEP_ID}`);
    await screen.findByRole("heading", { level: 1, name: /lr search/ });
    act(() => FakeWebSocket.find(PATH).open());
    expect(FakeWebSocket.find(PATH).protocols).toEqual(["azuraforge.v1", "bearer.header.payload.signature"]);
    send(trialChanged(1, wireTrial(1)));
    await settle();
    act(() => FakeWebSocket.find(PATH).serverClose(1006));
    await userEvent.click(await screen.findByRole("button", { name: "Retry now" }));
    expect(FakeWebSocket.last().url).toMatch(new RegExp(`${PATH}\\?after=1$`));
  });

  it("cancels after a confirmation", async () => {
    FakeWebSocket.install();
    await startSession();
    let stored = wireSweep();
    const api = fakeApi({
      [`GET sweeps/${SWEEP_ID}`]: () => ({ json: stored }),
      [`POST sweeps/${SWEEP_ID}/cancel`]: () => {
        stored = wireSweep({ status: "SWEEP_STATUS_CANCELLED" });
        return { json: stored };
      },
    });
    renderApp(`/sweeps/${SWEEP_ID}`);
    await userEvent.click(await screen.findByRole("button", { name: "Cancel sweep" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes, cancel the sweep" }));
    expect(await screen.findByText(/The sweep was cancelled/)).toBeInTheDocument();
    expect(api.calls.filter((call) => call.method === "POST").map((call) => call.url.pathname)).toEqual([`/api/v1/sweeps/${SWEEP_ID}/cancel`]);
  });

  it("says so when the sweep is not there", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({});
    renderApp(`/sweeps/${SWEEP_ID}`);
    expect(await screen.findByText("There is no sweep with this id, or it is someone else's.")).toBeInTheDocument();
  });
});

describe("the sweeps list", () => {
  it("lists the sweeps with their status, trials and best objective, linked to their pages", async () => {
    await startSession();
    fakeApi({
      "GET sweeps": () => ({
        json: {
          sweeps: [
            wireSweep({ trials: [wireTrial(1), wireTrial(2)], best_trial: wireTrial(2, { objective: 0.25 }) }),
            wireSweep({ sweep_id: "other", status: "SWEEP_STATUS_CANCELLED", spec: { ...(wireSweep().spec as object), name: "" } }),
          ],
          next_page_token: "",
        },
      }),
    });
    renderApp("/sweeps");
    const link = await screen.findByRole("link", { name: "lr search" });
    expect(link).toHaveAttribute("href", `/sweeps/${SWEEP_ID}`);
    const first = link.closest("tr") as HTMLElement;
    expect(first).toHaveTextContent("2 / 9");
    expect(first).toHaveTextContent("val_loss 0.25");
    expect(within(first).getByText("Running")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "weather_forecaster sweep" })).toHaveAttribute("href", "/sweeps/other");
    expect(screen.getByRole("link", { name: "Sweeps" })).toHaveAttribute("aria-current", "page");
  });
});

describe("a sweep's trials elsewhere", () => {
  it("links a trial in the experiments list to its sweep, and says it was stopped early", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      "GET pipelines": () => ({ json: { pipelines: [] } }),
      "GET experiments": () => ({
        json: {
          experiments: [
            wireExperiment({ experiment_id: "trial-3", status: "EXPERIMENT_STATUS_STOPPED_EARLY", sweep_id: SWEEP_ID, sweep_trial: 3 }),
            wireExperiment({ experiment_id: "plain-run" }),
          ],
          next_page_token: "",
        },
      }),
    });
    renderApp("/experiments");
    const link = await screen.findByRole("link", { name: "trial 3 of sweep 5eeeeeee" });
    expect(link).toHaveAttribute("href", `/sweeps/${SWEEP_ID}`);
    const row = link.closest("tr") as HTMLElement;
    expect(within(row).getByText("Stopped early")).toBeInTheDocument();
    expect(screen.getAllByRole("link", { name: /of sweep/ })).toHaveLength(1);
    expect(within(screen.getByLabelText("Status")).getByRole("option", { name: "Stopped early" })).toHaveValue("stopped_early");
  });

  it("names the sweep in a trial's breadcrumb", async () => {
    FakeWebSocket.install();
    await startSession();
    fakeApi({
      "GET experiments/trial-3": () => ({
        json: wireExperiment({ experiment_id: "trial-3", status: "EXPERIMENT_STATUS_STOPPED_EARLY", sweep_id: SWEEP_ID, sweep_trial: 3 }),
      }),
    });
    renderApp("/experiments/trial-3");
    expect(await screen.findByRole("link", { name: "Trial 3 of sweep 5eeeeeee" })).toHaveAttribute("href", `/sweeps/${SWEEP_ID}`);
    expect(screen.getByText(/Its sweep stopped the run early/)).toBeInTheDocument();
  });
});
