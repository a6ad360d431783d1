/**
 * One sweep, live: the stored sweep, and its event socket from the first event (for the ASHA
 * decisions, which only the log holds), folded by `applySweepEvent`. Events are applied in small
 * batches, as for experiments, so a replay renders a few times, not once per event. When the
 * sweep finishes the stored sweep is read again, for the server's final counts.
 */

import { useEffect, useMemo, useState } from "react";
import type { ConnectionState } from "../api/events";
import { getSweep, watchSweep, type AshaDecision, type Sweep, type SweepEvent } from "../api/sweeps";
import { applySweepEvent, decisionsOf } from "./sweepState";
import { useResource, type Resource } from "./useResource";

const FLUSH_MS = 40;

export interface LiveSweep {
  /** The stored sweep; its `data` is undefined until loaded. */
  stored: Resource<Sweep>;
  /** The stored sweep with the later events applied. */
  sweep: Sweep | undefined;
  decisions: AshaDecision[];
  connection: ConnectionState;
  reason: string;
  /** When (on this machine's clock) the last event or the open socket was seen. */
  lastUpdate: Date | null;
  retry: () => void;
}

export function useSweep(id: string): LiveSweep {
  const stored = useResource((signal) => getSweep(id, signal), [id]);
  const [events, setEvents] = useState<SweepEvent[]>([]);
  const [connection, setConnection] = useState<ConnectionState>("connecting");
  const [reason, setReason] = useState("");
  const [lastUpdate, setLastUpdate] = useState<Date | null>(null);
  const [retry, setRetry] = useState<() => void>(() => () => {});
  const { reload } = stored;

  useEffect(() => {
    setEvents([]);
    let pending: SweepEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const batch = pending;
      pending = [];
      setEvents((current) => [...current, ...batch]);
      setLastUpdate(new Date());
      if (batch.some((event) => event.type === "finished")) reload();
    };
    const subscription = watchSweep(
      id,
      0,
      (event) => {
        pending.push(event);
        timer ??= setTimeout(flush, FLUSH_MS);
      },
      {
        onState: (state, why) => {
          // Let queued events land before a "finished" state, so the two agree on screen.
          if (timer !== null) {
            clearTimeout(timer);
            flush();
          }
          setConnection(state);
          setReason(why);
          if (state === "open") setLastUpdate(new Date());
        },
      },
    );
    setRetry(() => () => subscription.retry());
    return () => {
      subscription.stop();
      if (timer !== null) clearTimeout(timer);
    };
  }, [id, reload]);

  const sweep = useMemo(() => (stored.data ? events.reduce(applySweepEvent, stored.data) : undefined), [stored.data, events]);
  const decisions = useMemo(() => decisionsOf(events), [events]);
  return { stored, sweep, decisions, connection, reason, lastUpdate, retry };
}
