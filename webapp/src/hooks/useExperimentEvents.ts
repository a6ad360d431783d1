/**
 * Live event histories of experiments, folded by `applyEvent`.
 *
 * Each experiment gets one socket (`watchExperiment`), which replays the history and follows
 * the live events, resuming with `after` when the connection drops. Events are applied in small
 * batches (one render per `FLUSH_MS`) so a replay of thousands of events renders a few times,
 * not thousands.
 */

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { watchExperiment, type ConnectionState, type Subscription } from "../api/events";
import { applyEvent, EMPTY_HISTORY, type RunHistory } from "./runHistory";
import type { ExperimentEvent } from "../api/types";

const FLUSH_MS = 40;

export interface RunStream {
  history: RunHistory;
  connection: ConnectionState;
  /** Why the connection is not open, when the server said. */
  reason: string;
  /** When (on this machine's clock) the last event or the open socket was seen. */
  lastUpdate: Date | null;
}

const INITIAL: RunStream = { history: EMPTY_HISTORY, connection: "connecting", reason: "", lastUpdate: null };

/** The event histories of `ids`, by id, kept live, and a way to reconnect them at once. */
export function useExperimentsEventsWithRetry(ids: readonly string[]): {
  streams: Record<string, RunStream>;
  retry: () => void;
} {
  const key = ids.join(",");
  const [streams, setStreams] = useState<Record<string, RunStream>>({});
  const live = useRef<Subscription[]>([]);
  const retry = useCallback(() => {
    for (const subscription of live.current) subscription.retry();
  }, []);

  useEffect(() => {
    const wanted = key ? key.split(",") : [];
    setStreams(Object.fromEntries(wanted.map((id) => [id, INITIAL])));
    const pending = new Map<string, ExperimentEvent[]>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const batches = new Map(pending);
      pending.clear();
      setStreams((current) => {
        const next = { ...current };
        for (const [id, events] of batches) {
          const stream = next[id] ?? INITIAL;
          next[id] = { ...stream, history: events.reduce(applyEvent, stream.history), lastUpdate: new Date() };
        }
        return next;
      });
    };
    const subscriptions = wanted.map((id) =>
      watchExperiment(
        id,
        0,
        (event) => {
          pending.set(id, [...(pending.get(id) ?? []), event]);
          timer ??= setTimeout(flush, FLUSH_MS);
        },
        {
          onState: (connection, reason) => {
            // Let queued events land before a "finished" state, so the two agree on screen.
            if (timer !== null) {
              clearTimeout(timer);
              flush();
            }
            setStreams((current) => {
              const stream = current[id] ?? INITIAL;
              const lastUpdate = connection === "open" ? new Date() : stream.lastUpdate;
              return { ...current, [id]: { ...stream, connection, reason, lastUpdate } };
            });
          },
        },
      ),
    );
    live.current = subscriptions;
    return () => {
      live.current = [];
      for (const subscription of subscriptions) subscription.stop();
      if (timer !== null) clearTimeout(timer);
    };
  }, [key]);

  return { streams, retry };
}

/** The event histories of `ids`, by id, kept live. */
export function useExperimentsEvents(ids: readonly string[]): Record<string, RunStream> {
  return useExperimentsEventsWithRetry(ids).streams;
}

/** One experiment's live event history, and `retry` to reconnect at once after a drop. */
export function useExperimentEvents(id: string): RunStream & { retry: () => void } {
  const ids = useMemo(() => [id], [id]);
  const { streams, retry } = useExperimentsEventsWithRetry(ids);
  return { ...(streams[id] ?? INITIAL), retry };
}
