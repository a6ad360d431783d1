/**
 * The gateway's WebSockets, kept open across network trouble.
 *
 * - `watchExperiment`: one experiment's events, history first, then live. Each message is an
 *   `ExperimentEvent` (read through its generated schema, like every REST body) with a `seq`; after a dropped connection it reconnects with
 *   `?after=<last seq>` so nothing is missed or repeated. The gateway closes with 1000 after
 *   the last event.
 * - `watchStatusChanges`: an `ExperimentStatusChanged` per status change of the user's runs.
 *   It has no history, so `onOpen` fires on every (re)connect for the caller to re-read.
 *
 * The token travels as the subprotocol `bearer.<token>` beside `azuraforge.v1` (a browser
 * cannot set headers on a WebSocket, and a query string would land in access logs). Close
 * codes are 4000 + the HTTP status: 4401 ends the session, 4403/4404 are final, anything else
 * is retried with a growing delay.
 *
 * The browser's own word on the network counts too: when it fires `offline` an open socket is
 * dropped at once (Chromium may keep a dead one looking open for minutes) and the state says
 * "reconnecting"; when it fires `online` a waiting retry runs at once instead of after its delay.
 * `retry()` does the same for a user's "Retry now".
 */

import { API } from "./http";
import { MalformedMessage } from "./messages";
import { session } from "./session";
import { parseEvent, parseStatusChange, type ExperimentEvent, type StatusChange } from "./types";

export const SUBPROTOCOL = "azuraforge.v1";
const CLOSE_FINISHED = 1000;
const CLOSE_UNAUTHENTICATED = 4401;
const FINAL_CLOSES = new Set([4400, 4403, 4404]);
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

export type ConnectionState = "connecting" | "open" | "reconnecting" | "finished" | "failed";

export interface ConnectionHandlers {
  onState?: (state: ConnectionState, reason: string) => void;
  onOpen?: () => void;
}

export function socketUrl(path: string): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}${API}/${path}`;
}

export interface SocketSpec {
  path: () => string;
  onMessage: (data: unknown) => void;
  /** Whether a clean close (1000) means the stream is over. */
  finishesOnClose: boolean;
}

/**
 * A WebSocket that reconnects until closed with `stop()`, a final code or the session's end;
 * exported for the other event logs with the same rules (a sweep's, in api/sweeps.ts).
 */
export class ResilientSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private readonly onOnline = () => this.retry();
  private readonly onOffline = () => this.drop("the browser is offline");

  constructor(
    private readonly spec: SocketSpec,
    private readonly handlers: ConnectionHandlers,
  ) {
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
    this.connect();
  }

  /** Reconnect now if the socket is waiting to retry; an open or opening socket is left alone. */
  retry(): void {
    if (this.stopped || this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.unlisten();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "leaving");
  }

  private connect(): void {
    const token = session.token();
    if (!token) {
      this.finish("failed", "not logged in");
      return;
    }
    this.handlers.onState?.(this.attempt === 0 ? "connecting" : "reconnecting", "");
    const socket = new WebSocket(socketUrl(this.spec.path()), [SUBPROTOCOL, `bearer.${token}`]);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.handlers.onState?.("open", "");
      this.handlers.onOpen?.();
    };
    socket.onmessage = (message: MessageEvent) => {
      if (this.socket !== socket || typeof message.data !== "string") return;
      this.attempt = 0;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      try {
        this.spec.onMessage(data);
      } catch (error) {
        // One bad message is skipped, as a frame that is not JSON is; the stream goes on.
        if (!(error instanceof MalformedMessage)) throw error;
        console.warn(error.message);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.closed(event.code, event.reason);
    };
  }

  /** Give up on the current socket as if it had closed abnormally, and retry as usual. */
  private drop(reason: string): void {
    const socket = this.socket;
    if (this.stopped || socket === null) return;
    this.socket = null;
    socket.close(1000, "offline");
    this.closed(1006, reason);
  }

  private unlisten(): void {
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
  }

  private closed(code: number, reason: string): void {
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHENTICATED) {
      this.finish("failed", reason);
      session.expire();
      return;
    }
    if (code === CLOSE_FINISHED && this.spec.finishesOnClose) {
      this.finish("finished", reason);
      return;
    }
    if (FINAL_CLOSES.has(code)) {
      this.finish("failed", reason || `closed with ${code}`);
      return;
    }
    const delay = RETRY_DELAYS_MS[Math.min(this.attempt, RETRY_DELAYS_MS.length - 1)] ?? 8000;
    this.attempt += 1;
    this.handlers.onState?.("reconnecting", reason);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private finish(state: ConnectionState, reason: string): void {
    this.stopped = true;
    this.unlisten();
    this.handlers.onState?.(state, reason);
  }
}

export interface Subscription {
  stop(): void;
  /** Reconnect at once if waiting to retry after a drop. */
  retry(): void;
}

/**
 * Follow an experiment's events from after `after`. Events arrive in `seq` order exactly once,
 * across reconnects; `onEvent` is not called again for a seq it has seen.
 */
export function watchExperiment(
  experimentId: string,
  after: number,
  onEvent: (event: ExperimentEvent) => void,
  handlers: ConnectionHandlers = {},
): Subscription {
  let lastSeq = after;
  const socket = new ResilientSocket(
    {
      path: () =>
        `experiments/${encodeURIComponent(experimentId)}/events${lastSeq > 0 ? `?after=${lastSeq}` : ""}`,
      onMessage: (data) => {
        const event = parseEvent(data);
        if (event.seq <= lastSeq) return;
        lastSeq = event.seq;
        onEvent(event);
      },
      finishesOnClose: true,
    },
    handlers,
  );
  return { stop: () => socket.stop(), retry: () => socket.retry() };
}

/** Follow the status changes of the user's experiments (everyone's for an admin). */
export function watchStatusChanges(
  onChange: (change: StatusChange) => void,
  handlers: ConnectionHandlers = {},
): Subscription {
  const socket = new ResilientSocket(
    { path: () => "events", onMessage: (data) => onChange(parseStatusChange(data)), finishesOnClose: false },
    handlers,
  );
  return { stop: () => socket.stop(), retry: () => socket.retry() };
}
