/**
 * The logged-in session: the access token, when it expires and who it belongs to.
 *
 * The token lives in memory and in `sessionStorage`, so a reload keeps the user logged in but
 * closing the tab forgets it, and no other site's page can read it (no cookie is involved, so
 * there is no CSRF to defend against). When the token stops working (its expiry passes, a
 * request answers 401, a WebSocket closes with 4401) the session ends with a message that the
 * log-in page shows.
 */

import type { User } from "./types";

const STORAGE_KEY = "azuraforge.session";

export interface Session {
  token: string;
  /** Milliseconds since the epoch; null when the server did not say. */
  expiresAt: number | null;
  user: User | null;
}

export interface SessionEnd {
  /** Why the session ended, for the log-in page. */
  message: string;
}

type Listener = (session: Session | null, end: SessionEnd | null) => void;

export const SESSION_EXPIRED_MESSAGE = "Your session has expired. Log in again to continue.";
export const LOGGED_OUT_MESSAGE = "You have logged out.";

function load(): Session | null {
  try {
    const text = window.sessionStorage.getItem(STORAGE_KEY);
    if (!text) return null;
    const data = JSON.parse(text) as Partial<Session>;
    if (typeof data.token !== "string" || !data.token) return null;
    return {
      token: data.token,
      expiresAt: typeof data.expiresAt === "number" ? data.expiresAt : null,
      user: data.user ?? null,
    };
  } catch {
    return null;
  }
}

function store(session: Session | null): void {
  try {
    if (session) window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
    else window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage can be full or disabled; the session still works for this page's life.
  }
}

class SessionStore {
  private current: Session | null = null;
  private listeners = new Set<Listener>();
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;
  private lastEnd: SessionEnd | null = null;

  constructor() {
    this.current = load();
    if (this.current?.expiresAt != null && this.current.expiresAt <= Date.now()) {
      this.current = null;
      this.lastEnd = { message: SESSION_EXPIRED_MESSAGE };
      store(null);
    }
    this.armExpiry();
  }

  get(): Session | null {
    return this.current;
  }

  token(): string | null {
    return this.current?.token ?? null;
  }

  /** Why the last session ended, for the log-in page; forgotten at the next log-in. */
  lastEnded(): SessionEnd | null {
    return this.lastEnd;
  }

  start(session: Session): void {
    this.current = session;
    this.lastEnd = null;
    store(session);
    this.armExpiry();
    this.emit(null);
  }

  setUser(user: User): void {
    if (!this.current) return;
    this.current = { ...this.current, user };
    store(this.current);
    this.emit(null);
  }

  /** End the session because the token stopped working; `message` says so on the log-in page. */
  expire(message: string = SESSION_EXPIRED_MESSAGE): void {
    if (!this.current) return;
    this.end({ message });
  }

  logOut(): void {
    this.end({ message: LOGGED_OUT_MESSAGE });
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private end(end: SessionEnd): void {
    this.current = null;
    this.lastEnd = end;
    store(null);
    this.armExpiry();
    this.emit(end);
  }

  private emit(end: SessionEnd | null): void {
    for (const listener of this.listeners) listener(this.current, end);
  }

  private armExpiry(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    const expiresAt = this.current?.expiresAt;
    if (expiresAt == null) return;
    // setTimeout fires at once for delays past 2^31 - 1 ms; such tokens are checked again later.
    const delay = Math.min(Math.max(0, expiresAt - Date.now()), 2 ** 31 - 1);
    this.expiryTimer = setTimeout(() => {
      if (this.current?.expiresAt != null && this.current.expiresAt <= Date.now()) this.expire();
      else this.armExpiry();
    }, delay);
  }
}

export const session = new SessionStore();

