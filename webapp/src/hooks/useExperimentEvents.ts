/**
 * Live event histories of experiments, folded by `applyEvent`.
 *
 * Each experiment gets one socket (`watchExperiment`), which replays the history and follows
 * the live events, resuming with `after` when the connection drops. Events are applied in small
 * batches (one render per `FLUSH_MS`) so a replay of thousands of events renders a few times,
 * not thousands.
 */

import { useEffect, useMemo, useState } from "react";
import { watchExperiment, type ConnectionState } from "../api/events";
import { applyEvent, EMPTY_HISTORY, type RunHistory } from "./runHistory";
import type { ExperimentEvent } from "../api/types";

const FLUSH_MS = 40;

export interface RunStream {
  history: RunHistory;
  connection: ConnectionState;
  /** Why the connection is not open, when the server said. */
  reason: string;
}

const INITIAL: RunStream = { history: EMPTY_HISTORY, connection: "connecting", reason: "" };

/** The event histories of `ids`, by id, kept live. */
export function useExperimentsEvents(ids: readonly string[]): Record<string, RunStream> {
  const key = ids.join(",");
  const [streams, setStreams] = useState<Record<string, RunStream>>({});

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
          next[id] = { ...stream, history: events.reduce(applyEvent, stream.history) };
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
            setStreams((current) => ({
              ...current,
              [id]: { ...(current[id] ?? INITIAL), connection, reason },
            }));
          },
        },
      ),
    );
    return () => {
      for (const subscription of subscriptions) subscription.stop();
      if (timer !== null) clearTimeout(timer);
    };
  }, [key]);

  return streams;
}

/** One experiment's live event history. */
export function useExperimentEvents(id: string): RunStream {
  const ids = useMemo(() => [id], [id]);
  return useExperimentsEvents(ids)[id] ?? INITIAL;
}
