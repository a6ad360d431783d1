import { beforeEach, describe, expect, it, vi } from "vitest";
import { FakeWebSocket } from "../test/fakeSocket";
import { startSession } from "../test/fakeApi";
import { watchExperiment, watchStatusChanges } from "./events";
import { session } from "./session";
import type { ExperimentEvent } from "./types";

function epoch(seq: number, number: number) {
  return { experiment_id: "e1", seq, epoch_ended: { epoch: number, total_epochs: 5, metrics: { loss: 1 / number } } };
}

describe("watchExperiment", () => {
  beforeEach(async () => {
    FakeWebSocket.install();
    await startSession();
  });

  it("offers the token as a subprotocol, never in the URL", () => {
    watchExperiment("e1", 0, () => undefined);
    const socket = FakeWebSocket.last();
    expect(socket.url).toBe("ws://localhost:3000/api/v1/experiments/e1/events");
    expect(socket.protocols).toEqual(["azuraforge.v1", "bearer.header.payload.signature"]);
  });

  it("resumes after a dropped connection with after=<last seq>, without repeating events", () => {
    vi.useFakeTimers();
    const seen: ExperimentEvent[] = [];
    const states: string[] = [];
    watchExperiment("e1", 0, (event) => seen.push(event), { onState: (state) => states.push(state) });
    const first = FakeWebSocket.last();
    first.open();
    first.receive(epoch(1, 1));
    first.receive(epoch(2, 2));
    first.serverClose(1006);
    expect(states.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(600);
    const second = FakeWebSocket.last();
    expect(second).not.toBe(first);
    expect(second.url).toMatch(/\/experiments\/e1\/events\?after=2$/);
    second.open();
    second.receive(epoch(2, 2)); // a duplicate is dropped
    second.receive(epoch(3, 3));
    expect(seen.map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it("drops the socket when the browser goes offline and reconnects the moment it is back", () => {
    vi.useFakeTimers();
    const states: string[] = [];
    const subscription = watchExperiment("e2", 0, () => undefined, { onState: (state) => states.push(state) });
    const mine = () => FakeWebSocket.sockets.filter((socket) => socket.url.includes("/e2/"));
    const first = FakeWebSocket.last();
    first.open();
    first.receive(epoch(1, 1));
    window.dispatchEvent(new Event("offline"));
    expect(first.readyState).toBe(FakeWebSocket.CLOSED);
    expect(states.at(-1)).toBe("reconnecting");
    // No waiting for the retry delay: `online` reconnects at once, after the last event seen.
    window.dispatchEvent(new Event("online"));
    const second = mine().at(-1) as FakeWebSocket;
    expect(second).not.toBe(first);
    expect(second.url).toMatch(/\?after=1$/);
    // "Retry now" does the same after a drop; an opening socket is left alone.
    subscription.retry();
    expect(mine()).toHaveLength(2);
    second.serverClose(1006);
    subscription.retry();
    expect(mine()).toHaveLength(3);
    subscription.stop();
    window.dispatchEvent(new Event("online"));
    expect(mine()).toHaveLength(3);
  });

  it("reads each message as an ExperimentEvent, skipping one that is not, and goes on", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const seen: ExperimentEvent[] = [];
    watchExperiment("e1", 0, (event) => seen.push(event));
    const socket = FakeWebSocket.last();
    socket.open();
    socket.receive({ experimentId: "e1", seq: "1", epochEnded: { epoch: 1, metrics: { loss: "NaN" } }, fromTheFuture: 1 });
    socket.receive({ experiment_id: "e1", seq: 2, epoch_ended: { epoch: "first" } });
    socket.receive({ experiment_id: "e1", seq: 3, experiment_finished: { status: "EXPERIMENT_STATUS_STOPPED_EARLY" } });
    expect(seen.map((event) => [event.seq, event.type])).toEqual([
      [1, "epochEnded"],
      [3, "finished"],
    ]);
    expect(seen[1]).toMatchObject({ status: "stopped_early" });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/malformed azuraforge\.v1\.ExperimentEvent.*epoch/));
  });

  it("stops after the experiment's last event (close 1000)", () => {
    vi.useFakeTimers();
    const states: string[] = [];
    watchExperiment("e1", 0, () => undefined, { onState: (state) => states.push(state) });
    FakeWebSocket.last().open();
    FakeWebSocket.last().serverClose(1000, "experiment_finished");
    vi.advanceTimersByTime(10_000);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    expect(states.at(-1)).toBe("finished");
  });

  it("ends the session when the gateway closes with 4401", () => {
    watchExperiment("e1", 0, () => undefined);
    FakeWebSocket.last().serverClose(4401, "token expired: log in again");
    expect(session.get()).toBeNull();
  });

  it("gives up on a run that is not there (4404)", () => {
    vi.useFakeTimers();
    const states: [string, string][] = [];
    watchExperiment("e1", 0, () => undefined, { onState: (state, reason) => states.push([state, reason]) });
    FakeWebSocket.last().serverClose(4404, "experiment not found");
    vi.advanceTimersByTime(10_000);
    expect(FakeWebSocket.sockets).toHaveLength(1);
    expect(states.at(-1)).toEqual(["failed", "experiment not found"]);
  });
});

describe("watchStatusChanges", () => {
  it("reconnects after any close and says so, so the caller re-reads its list", async () => {
    FakeWebSocket.install();
    await startSession();
    vi.useFakeTimers();
    const opened = vi.fn();
    const changes: string[] = [];
    const subscription = watchStatusChanges((change) => changes.push(change.status), { onOpen: opened });
    FakeWebSocket.last().open();
    FakeWebSocket.last().receive({ experiment_id: "e1", status: "EXPERIMENT_STATUS_RUNNING" });
    FakeWebSocket.last().serverClose(1000);
    vi.advanceTimersByTime(600);
    FakeWebSocket.last().open();
    expect(opened).toHaveBeenCalledTimes(2);
    expect(changes).toEqual(["running"]);
    subscription.stop();
    expect(FakeWebSocket.last().readyState).toBe(FakeWebSocket.CLOSED);
  });
});
